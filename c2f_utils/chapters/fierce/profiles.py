"""Profiles of "FIERCE": the chapter's grids in the ``quick``, ``real`` and ``paper`` profiles, and :data:`CHAPTER`."""

from __future__ import annotations

from typing import Any

from ...experiments import Chapter, Grid
from .. import register
from .age import AgeRun
from .experiments import CRITERIA
from .fewshot import FewShotRun
from .unmixing import UnmixingRun

__all__ = ["CHAPTER"]


def _profile(
    *,
    seeds: tuple[int, ...],
    device: str,
    age: dict[str, Any],
    unmix: dict[str, Any],
    fewshot: dict[str, Any],
    lams: tuple[float, ...],
    anchor_counts: tuple[int, ...],
    unmix_seeds: tuple[int, ...],
) -> dict[str, Grid]:
    common = {"criterion": "fierce", "seed": seeds[0], "entropy_unit": "bits", "device": device}
    per_seed = {"criterion": CRITERIA, "seed": seeds}
    unmix = UnmixingRun(**{**common, "seed": unmix_seeds[0]}, **unmix)
    one_run = ("criterion", "seed")  # the appendix sweeps: FIERCE, first seed
    variants = {"similarity": ("dot", "cosine"), "anchor_kind": ("uniform", "sphere")}
    return {
        "age": Grid(AgeRun(**common, **age), sweep=per_seed, group="age", fixed=("criterion",)),
        "unmix": Grid(
            unmix,
            sweep={"criterion": CRITERIA, "seed": unmix_seeds},
            group="unmix",
            fixed=("criterion",),
            own=("seed",),
        ),
        "fewshot": Grid(FewShotRun(**common, **fewshot), sweep=per_seed, group="fewshot", fixed=("criterion",)),
        "lambdas": Grid(unmix, sweep={"lam": lams}, group="unmix", fixed=one_run),
        "anchor_counts": Grid(unmix, sweep={"anchor_count": anchor_counts}, group="unmix", fixed=one_run),
        "variants": Grid(unmix, sweep=variants, group="unmix", fixed=(*one_run, *variants)),
    }


# fmt: off
_UNMIX = dict(batch_size=200, lam=1.0, smoothing=0.4, anchor_count=100, similarity="dot", anchor_kind="uniform",
              probe_every=10)
_FEWSHOT = dict(batch_size=64, lam=1.5, smoothing=0.1, anchor_count=100, warmup_epochs=0)
#: The chapter: its experiments' grids per profile (``python -m c2f_utils.run --list fierce``).
CHAPTER = register(Chapter(
    name="fierce",
    source="fierce.md",
    title="FIERCE: feature-entropy regularisation",
    shared=("seed", "device", "entropy_unit"),
    profiles={
        "quick": _profile(
            seeds=(0, 1, 2), device="cpu",
            age=dict(dataset="synthetic_sizes", model="mlp", standardize=False, image_size=16, epochs=40, lr=1e-3,
                     batch_size=64, lam=0.3, smoothing=0.1,
                     anchor_count=50, anchor_range=(-1.0, 1.0), tau=0.02, probe_every=2),
            unmix=dict(_UNMIX, dataset="synthetic_unmixing", epochs=30, lr=1e-3),
            fewshot=dict(_FEWSHOT, dataset="digits", epochs=40, lr=0.05, episodes=2000),
            lams=(0.3, 1.0, 4.0),
            anchor_counts=(10, 100, 400),
            unmix_seeds=(0, 1, 2),
        ),
        # real: Table 1 on Samson with the paper's recipe unchanged (probed every 20 epochs instead of 10,
        # each probe fits a converged transfer head), the scene split by blocks, five seeds (unmix.seeds);
        # Figure 1 on UTKFace at 32 px, standardised, with the official
        # ResNet scaled to a CPU (`cnn`), batch 128, anchors one unit apart on [-10, 10] (the official grid's
        # spacing) and the official temperature 1: the unit Gumbel noise blurs a feature over about one
        # anchor, not over the whole grid, and the features (spread of a few units) stay resolved;
        # Table 2 on CIFAR-10 (5 base + 5 novel classes) with LeNet-5 for 10 epochs after a 2-epoch warm-up.
        "real": _profile(
            seeds=(0, 1, 2, 3, 4), device="cpu",
            age=dict(dataset="utkface", model="cnn", standardize=True, image_size=32, epochs=12, lr=1e-3,
                     batch_size=128, lam=0.3, smoothing=0.1,
                     anchor_count=21, anchor_range=(-10.0, 10.0), tau=1.0, probe_every=3),
            unmix=dict(_UNMIX, dataset="samson", epochs=200, lr=1e-4, probe_every=20),
            fewshot=dict(_FEWSHOT, dataset="cifar10_jpeg", epochs=10, lr=0.05, episodes=2000, warmup_epochs=2),
            lams=(0.3, 1.0, 4.0),
            anchor_counts=(10, 100, 400),
            unmix_seeds=(0, 1, 2, 3, 4),
        ),
        "paper": _profile(
            seeds=tuple(range(10)), device="auto",
            age=dict(dataset="utkface", model="resnet18", standardize=False, image_size=64, epochs=500, lr=1e-3,
                     batch_size=256, lam=0.3, smoothing=0.1,
                     anchor_count=100, anchor_range=(1.0, 100.0), tau=1.0, probe_every=10),
            unmix=dict(_UNMIX, dataset="samson", epochs=200, lr=1e-4),
            fewshot=dict(_FEWSHOT, dataset="cifar_fs", epochs=350, lr=0.1, episodes=10000),
            lams=(0.0, 0.3, 1.0, 2.0, 4.0, 8.0),
            anchor_counts=(10, 25, 50, 75, 100, 200),
            unmix_seeds=tuple(range(10)),
        ),
    },
))
# fmt: on
