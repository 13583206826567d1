"""Profiles of "Label smoothing as an information bottleneck": the grids of each profile and :data:`CHAPTER`.

``quick`` runs the embedded stand-ins on a CPU in minutes, ``real`` the real data read offline
(LeNet-5 on a CPU), ``paper`` the paper's data, networks and schedule (on a GPU). Every profile is
built by keyword from ``_PROFILES`` (``python -m c2f_utils.run --list ls_ib`` prints the values).
"""

from __future__ import annotations

from typing import Any

from ...experiments import Chapter, Grid
from .. import register
from .experiments import IBCurve, LsIbTraining, Nuisance, Plane, RawNuisanceProbe, Saliency

__all__ = ["CHAPTER"]


def _profile(
    *,
    datasets: dict[str, str],
    sweeps: dict[str, tuple[float, ...]],
    seeds: tuple[int, ...],
    networks: dict[str, str],
    epochs: dict[str, int],
    batch_size: dict[str, int],
    lr: dict[str, float],
    n_train: int,
    n_show: int,
    ib_steps: int,
    **shared: Any,
) -> dict[str, Grid]:
    """The grids of one profile; an empty saliency sweep plans no run of Figures 7-8.

    ``datasets`` maps a figure (plane, ib, nuisance, saliency) to its data; ``sweeps`` a training
    grid (plane: α, plane_cp: β, nuisance: α, saliency: α) to its strengths; ``networks``,
    ``epochs``, ``batch_size`` and ``lr`` a group (plane, nuisance, saliency) to its :data:`NETWORKS`
    entry, epochs, batch size and learning rate; ``n_train`` is Figure 3's training subset (0: the
    whole split); ``shared`` the fields every training run shares (optimizer, augment, device).
    """

    def grid(cls: type[LsIbTraining], *, gid: str, group: str, sweep: str, **fields: Any) -> Grid:
        per_group = {"network": networks[group], "epochs": epochs[group], "batch_size": batch_size[group]}
        per_group["lr"] = lr[group]
        base = cls(dataset=datasets[group], seed=seeds[0], **{sweep: 0.0}, **fields, **shared, **per_group)
        fixed = tuple(f for f in ("alpha", "beta") if f in fields)
        return Grid(base, sweep={sweep: sweeps[gid], "seed": seeds}, group=group, fixed=fixed)

    ib = IBCurve(dataset=datasets["ib"], betas=(*_TENTHS, 1.0), steps=ib_steps, seed=0, device=shared["device"])
    return {
        "plane": grid(Plane, gid="plane", group="plane", sweep="alpha", beta=0.0, n_train=n_train),
        "plane_cp": grid(Plane, gid="plane_cp", group="plane", sweep="beta", alpha=0.0, n_train=n_train),
        "ib": Grid(ib, group="ib", fixed=("seed",)),
        "nuisance": grid(Nuisance, gid="nuisance", group="nuisance", sweep="alpha"),
        "raw_nuisance": Grid(RawNuisanceProbe(dataset=datasets["nuisance"]), group="nuisance"),
        "saliency": grid(Saliency, gid="saliency", group="saliency", sweep="alpha", n_show=n_show),
    }


def _each(value: Any) -> dict[str, Any]:
    """The same value for the three training groups."""
    return dict.fromkeys(("plane", "nuisance", "saliency"), value)


_TENTHS = tuple(round(0.1 * i, 1) for i in range(10))
_SHARED = ("seed", "device", "optimizer", "augment")
_PROFILES: dict[str, dict[str, Any]] = {
    # quick: the embedded stand-ins on a CPU; Figures 7-8 not run (saliency.alphas = [])
    "quick": dict(
        datasets={"plane": "digits", "ib": "auto", "nuisance": "occluded_digits", "saliency": "cluttered_digits"},
        sweeps={"plane": _TENTHS, "plane_cp": (0.5, 2.0), "nuisance": (0.0, 0.8), "saliency": ()},
        seeds=(0, 1, 2),
        epochs=_each(30),
        optimizer="adam",
        lr=_each(0.005),
        batch_size=_each(128),
        augment=False,
        device="cpu",
        ib_steps=100,
        n_show=8,
        networks=_each("default"),
        n_train=0,
    ),
    # real: Figure 3 on 200 CIFAR-10 training images (the offline JPEG copy, 20 a class), which
    # LeNet-5 fits (Assumption 4.3: training accuracy >= 0.99 at every alpha and beta, the criterion
    # fixed before the plane was looked at; one recipe for all); Figure 4 on CIFAR-10H; Figure 6 on
    # Occluded CIFAR built from the JPEG copy and the MNIST test digits (occluded_cifar10_jpeg);
    # Figures 7-8 on Cluttered MNIST built from the MNIST test digits (cluttered_mnist10k).
    "real": dict(
        datasets={
            "plane": "cifar10_jpeg",
            "ib": "cifar10h",
            "nuisance": "occluded_cifar10_jpeg",
            "saliency": "cluttered_mnist10k",
        },
        sweeps={
            "plane": (0.0, 0.2, 0.4, 0.6, 0.8),
            "plane_cp": (0.5, 2.0),
            "nuisance": (0.0, 0.8),
            "saliency": (0.0, 0.1),
        },
        seeds=(0, 1, 2, 3, 4),
        epochs={"plane": 150, "nuisance": 10, "saliency": 10},
        optimizer="adam",
        augment=False,
        batch_size={"plane": 20, "nuisance": 128, "saliency": 64},
        device="cpu",
        n_train=200,
        lr={"plane": 0.002, "nuisance": 0.002, "saliency": 0.005},
        ib_steps=3000,
        n_show=8,
        networks=_each("lenet"),
    ),
    # paper: the paper's data, networks and SGD schedule, on a GPU
    "paper": dict(
        datasets={"plane": "cifar10", "ib": "cifar10h", "nuisance": "occluded_cifar", "saliency": "cluttered_mnist"},
        sweeps={"plane": _TENTHS, "plane_cp": (0.5, 1.0, 2.0), "nuisance": _TENTHS, "saliency": (0.0, 0.1)},
        seeds=(0, 1, 2, 3, 4),
        epochs=_each(160),
        optimizer="sgd",
        lr=_each(0.1),
        batch_size=_each(128),
        augment=True,
        device="auto",
        ib_steps=3000,
        n_show=20,
        networks=_each("default"),
        n_train=0,
    ),
}
_TITLE = "Label smoothing as an information bottleneck"
#: The chapter: its experiments' grids per profile (``python -m c2f_utils.run --list ls_ib``).
CHAPTER = register(
    Chapter(
        "ls_ib",
        "ls_ib.md",
        _TITLE,
        {profile: _profile(**values) for profile, values in _PROFILES.items()},
        shared=_SHARED,
    )
)
