"""Experiments of "Representation transfer by optimal transport": the chapter's runs and profiles.

:class:`Reference` (the transfer source and the compression teacher, trained once) and
:class:`Finetune` (Table 1, a :class:`~c2f_utils.experiments.TrainingRun`) live in
:mod:`~c2f_utils.chapters.ot_transfer.transfer`; :class:`Compress` (Table 2) and :class:`Cost` (§4)
in :mod:`~c2f_utils.chapters.ot_transfer.compression`; the networks in
:mod:`~c2f_utils.chapters.ot_transfer.networks`, the penalties in
:mod:`~c2f_utils.chapters.ot_transfer.penalties`. :data:`CHAPTER` holds their grids per profile.
"""

from __future__ import annotations

from typing import Any

from ...experiments import Chapter, Grid
from .. import register
from .compression import Compress, Cost
from .networks import TRANSFER_METHODS
from .transfer import Finetune

__all__ = ["CHAPTER"]


def _profile(
    *,
    datasets: tuple[str, str],
    seeds: tuple[int, ...],
    device: str,
    alphas: tuple[float, ...],
    transfer: dict[str, Any],
    compress: dict[str, Any],
    cost: dict[str, Any],
    fixed: tuple[str, ...] = (),
    l2_alphas: tuple[float, ...] | None = None,
) -> dict[str, Grid]:
    """A profile's grids from the datasets (transfer, compression), transfer seeds, device, transfer
    ``alphas`` (``l2_alphas`` for L2, the parameter ``l2.alphas``; default: ``alphas``), the
    transfer fields the profile ``fixed`` (not parameters) and the fields of each group (``compress``
    names its own ``seeds``, the parameter ``compress.seeds``, and may name the ``methods`` of the
    grid ``"compress"``, Ω_U and Ω_P by default)."""
    tune = Finetune(dataset=datasets[0], method="none", alpha=0.0, seed=seeds[0], device=device, **transfer)
    c = dict(compress)
    calphas, temps, cseeds = c.pop("alphas"), c.pop("temperatures"), c.pop("seeds")
    methods = c.pop("methods", ("omega_u", "omega_p"))
    base = Compress(
        dataset=datasets[1],
        student="S",
        method="none",
        alpha=0.0,
        temperature=1.0,
        seed=cseeds[0],
        device=device,
        **c,
    )
    students, swept = {"student": ("S", "M")}, {"alpha": calphas, "seed": cseeds}
    hyper = ("student", "method", "temperature")
    kd, own = base.replace(method="kd", temperature=temps[0]), ("seed",)
    timing = Cost(networks=("mlp", "resnet20"), n=64, device=device, **cost)
    return {
        "transfer_none": Grid(base=tune, sweep={"seed": seeds}, fixed=("method", "alpha", *fixed)),
        "transfer_l2": Grid(
            base=tune.replace(method="l2"),
            sweep={"alpha": alphas if l2_alphas is None else l2_alphas, "seed": seeds},
            group="l2",
            fixed=("method", *fixed),
            own=("alpha",),
            own_only=True,
        ),
        "transfer": Grid(
            base=tune,
            sweep={"method": TRANSFER_METHODS[2:], "alpha": alphas, "seed": seeds},
            fixed=("method", *fixed),
        ),
        "compress_none": Grid(
            base=base, sweep={**students, "seed": cseeds}, group="compress", fixed=(*hyper, "alpha"), own=own
        ),
        "compress": Grid(
            base=base, sweep={**students, "method": methods, **swept}, group="compress", fixed=hyper, own=own
        ),
        "compress_identity": Grid(
            base=base.replace(student="M", method="omega_i"), sweep=swept, group="compress", fixed=hyper, own=own
        ),
        "compress_kd": Grid(
            base=kd, sweep={**students, "temperature": temps, **swept}, group="compress", fixed=hyper[:2], own=own
        ),
        "cost": Grid(base=timing, group="cost", fixed=("networks", "n")),
    }


def _cpu_profile(
    *,
    dataset: str,
    seeds: tuple[int, ...],
    shots: int,
    epochs: int,
    lr: float,
    batch_size: int,
    intermediate: str,
    compress: dict[str, Any],
    l2_alphas: tuple[float, ...] | None = None,
) -> dict[str, Grid]:
    """The quick and real profiles: one data set for both tables, on a CPU, the strengths 1e-3 to
    0.1, a source trained for 20 epochs, L2-SP's β = 0.01 and the same timings."""
    transfer = dict(
        shots=shots,
        pretrain_epochs=20,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        l2sp_beta=0.01,
        intermediate=intermediate,
    )
    return _profile(
        datasets=(dataset, dataset),
        seeds=seeds,
        device="cpu",
        alphas=(1e-3, 1e-2, 1e-1),
        l2_alphas=l2_alphas,
        transfer=transfer,
        compress=compress,
        cost=dict(dims=(64, 256, 1024), prox_max_dim=64, repeats=5),
    )


#: The chapter: its experiments' grids per profile (``python -m c2f_utils.run --list ot_transfer``).
CHAPTER = register(
    Chapter(
        name="ot_transfer",
        source="ot_transfer.md",
        title="Representation transfer by optimal transport",
        profiles={
            "quick": _cpu_profile(
                dataset="digits",
                seeds=(0, 1, 2),
                shots=10,
                epochs=20,
                lr=0.02,
                batch_size=25,
                intermediate="body.3",
                compress=dict(teacher_epochs=20, epochs=4, alphas=(1.0,), temperatures=(4.0,), seeds=(0, 1, 2)),
            ),
            # real: CIFAR-10 (the shared JPEG copy, 2,000 training images per class). Table 1: a
            # LeNet-5 trained on the classes 0-4 fine-tuned on 100 images per class of the classes
            # 5-9, validated on 100 more per class (500), tested on their 5,000 test images; the
            # fine-tuning lr set so that the unregularized runs move their neurons (30 epochs, 3 strengths: the
            # CPU budget), the same for every regularizer; Ω_I/U/P also on conv2; 5 seeds. L2 (towards 0)
            # takes the lower three of the paper's five strengths: at 0.1 every L2 run stayed at chance. Table 2: a
            # ResNet-8 teacher and LeNet-5 students on 16,000 training images, 8 epochs after a 1-epoch
            # warm-up, gradients clipped to norm 1 (with the warm-up alone one unregularized student and
            # five KD students at α = 1 stayed at one class), the strength of each method chosen on
            # validation, 5 seeds; Ω_U (in no claim) left out for the CPU budget.
            "real": _cpu_profile(
                dataset="cifar10_jpeg",
                seeds=(0, 1, 2, 3, 4),
                shots=100,
                epochs=30,
                lr=0.1,
                batch_size=64,
                intermediate="conv2",
                l2_alphas=(1e-4, 1e-3, 1e-2),
                compress=dict(
                    teacher_epochs=10,
                    epochs=8,
                    warmup_epochs=1,
                    grad_clip=1.0,
                    alphas=(0.01, 0.1, 1.0),
                    temperatures=(4.0,),
                    methods=("omega_p",),
                    seeds=(0, 1, 2, 3, 4),
                ),
            ),
            # Paper §4 and App. A: torchvision's ImageNet ResNet-101 (not trained here, so
            # `pretrain_epochs` is fixed, unused) fine-tuned for 9,000 iterations of 64 (~175 epochs of
            # 100 x 33 FGVC-Aircraft images), lr chosen in {0.005, ..., 0.04} (here 0.01; sweep with
            # -p lr), strengths in {1e-4, ..., 1}; CIFAR-10 students ResNet-56 and ResNet-56-Slim of a
            # ResNet-110 teacher (the paper: ResNet-1001), 160K iterations of 64 (256 epochs of the 40,000
            # images left after the validation hold-out), strengths in {1e-3, ..., 10}, KD temperature in {4, 5, 10}.
            "paper": _profile(
                datasets=("fgvc_aircraft", "cifar10"),
                seeds=(0, 1, 2, 3, 4),
                device="auto",
                alphas=(1e-4, 1e-3, 1e-2, 1e-1, 1.0),
                fixed=("pretrain_epochs",),
                transfer=dict(
                    shots=33,
                    pretrain_epochs=1,
                    epochs=175,
                    lr=0.01,
                    batch_size=64,
                    l2sp_beta=0.01,
                    solver="proximal",
                    intermediate="taps.unit19",
                ),
                compress=dict(
                    teacher_epochs=256,
                    epochs=256,
                    alphas=(1e-3, 0.01, 0.1, 1, 10),
                    temperatures=(4, 5, 10),
                    seeds=(0, 1, 2, 3, 4),
                ),
                cost=dict(dims=(64, 128, 256, 512, 1024, 2048), prox_max_dim=2048, repeats=20),
            ),
        },
        shared=("seed", "device", "temperature"),
    )
)
