"""The profiles of "Learnable label smoothing": its experiments' grids, and :data:`CHAPTER`.

The experiments are :class:`~c2f_utils.chapters.lls.Train` (a
:class:`~c2f_utils.experiments.TrainingRun`), :class:`~c2f_utils.chapters.lls.Variant`,
:class:`~c2f_utils.chapters.lls.Overhead` (:mod:`~c2f_utils.chapters.lls.training`),
:class:`~c2f_utils.chapters.lls.Distill` and :class:`~c2f_utils.chapters.lls.Subset`
(:mod:`~c2f_utils.chapters.lls.students`).
"""

from __future__ import annotations

from typing import Any

from ...constants import LLS_ABLATIONS
from ...experiments import Chapter, Grid
from .. import register
from .methods import AUGMENTATIONS, METHODS, STUDENT_KINDS, SUBSET_METHODS, TEACHERS
from .students import Distill, Subset
from .training import Overhead, Train, Variant

__all__ = ["CHAPTER", "Distill", "Overhead", "Subset", "Train", "Variant"]


def _profile(
    main: Train,
    *,
    seeds: tuple[int, ...],
    alphas: tuple[float, ...],
    student: str,
    timed: int,
    fig8_dataset: str,
    fig8_model: str,
    few: tuple[int, ...],
    subset_seeds: tuple[int, ...] = (),
    subset_grad_clip: float = 0.0,
) -> dict[str, Grid]:
    """A profile's grids: ``seeds`` for the main grid (Tables 3, Figs 3-6), its alphas and Fig. 8
    (on ``fig8_dataset`` with ``fig8_model``); ``few`` (parameters ``ablation.seeds``,
    ``distill.seeds``, ``subset.seeds``, ``table8.seeds``) for the costlier grids of Tables 4-8;
    Tables 6-7's own ``subset_seeds`` (default ``few``) and ``subset_grad_clip``."""
    shared = {name: getattr(main, name) for name in ("dataset", "model", "alpha", "lr", "batch_size", "device")}
    overhead = Overhead(**shared, epochs=timed, seed=0)
    variant = Variant(
        recipe=main, dataset=fig8_dataset, model=fig8_model, augmentation="standard", method="1-hot", seed=seeds[0]
    )
    return {
        "main": Grid(main, sweep={"method": METHODS, "seed": seeds}, fixed=("method",)),
        "ablation": Grid(
            main,
            sweep={"method": tuple(LLS_ABLATIONS), "seed": few},
            group="ablation",
            fixed=("method",),
            own=("seed",),
        ),
        "distill": Grid(
            Distill(teacher=main, student=student, kind="alone", seed=0),
            sweep={"kind": STUDENT_KINDS, "seed": few},
            group="distill",
            fixed=("kind",),
            follow={"teacher": "main"},
            own=("seed",),
        ),
        "alpha": Grid(main.replace(method="LLS"), sweep={"alpha": alphas, "seed": seeds}, fixed=("method",)),
        "overhead": Grid(overhead, group="overhead", fixed=("seed",), own=("epochs",)),
        "subset": Grid(
            Subset(teacher=main, subset="samples", method="1-hot", seed=seeds[0], grad_clip=subset_grad_clip),
            sweep={"subset": ("samples", "classes"), "method": SUBSET_METHODS, "seed": subset_seeds or few},
            group="subset",
            fixed=("subset", "method"),
            follow={"teacher": "main"},
            own=("seed",),
        ),
        "fig8": Grid(
            variant,
            sweep={"method": TEACHERS, "seed": seeds},
            group="fig8",
            fixed=("augmentation", "method"),
            follow={"recipe": "main"},
            own=("dataset", "model"),
        ),
        "table8": Grid(
            variant.replace(dataset="", model=""),
            sweep={"augmentation": AUGMENTATIONS[1:], "method": ("1-hot", "LLS"), "seed": few},
            group="table8",
            fixed=("dataset", "model", "method"),
            follow={"recipe": "main"},
            own=("seed",),
        ),
    }


_RECIPE: dict[str, Any] = dict(
    alpha=0.1, batch_size=128, method="1-hot", seed=0, schedule="cosine", milestones=(), weight_decay=5e-4
)
_PROFILES: dict[str, dict[str, Any]] = {
    # quick: Fig. 8 on the same digits and MLP (the main grid's runs, read from the cache)
    "quick": dict(
        main=Train(
            **_RECIPE, dataset="digits", model="mlp", lr=0.2, device="cpu", epochs=20, warmup_epochs=0, tsne_samples=540
        ),
        seeds=(0, 1, 2),
        alphas=(0.05, 0.1, 0.3),
        student="mlp_small",
        timed=6,
        fig8_dataset="digits",
        fig8_model="mlp",
        few=(0, 1, 2),
    ),
    # real: CIFAR-10 (the offline JPEG copy, 20,000 training images) with LeNet-5 for 10 epochs
    # on a CPU, 5 seeds; Fig. 8 on the 10,000 MNIST test digits (8,000 to train) with LeNet-5, for
    # the paper's FashionMNIST (not available offline). Tables 6-7 clip the gradient to norm 1 for
    # every method (without it an LLS-ST run on the half of the classes stayed at chance).
    "real": dict(
        main=Train(
            **_RECIPE,
            dataset="cifar10_jpeg",
            model="lenet",
            lr=0.05,
            device="cpu",
            epochs=10,
            warmup_epochs=0,
            tsne_samples=1000,
        ),
        seeds=(0, 1, 2, 3, 4),
        alphas=(0.05, 0.1, 0.3),
        student="mlp_small",
        timed=6,
        fig8_dataset="mnist10k",
        fig8_model="lenet",
        few=(0, 1, 2, 3, 4),
        subset_seeds=(0, 1, 2, 3, 4),
        subset_grad_clip=1.0,
    ),
    # paper: CIFAR-10, ResNet-18, 300 epochs (multistep schedule after a 10-epoch warm-up)
    "paper": dict(
        main=Train(
            **_RECIPE | dict(schedule="multistep", milestones=(140, 215)),
            dataset="cifar10",
            model="resnet18",
            lr=0.1,
            device="auto",
            epochs=300,
            warmup_epochs=10,
            tsne_samples=2000,
        ),
        seeds=(0, 1, 2, 3, 4),
        alphas=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5),
        student="resnet20",
        timed=3,
        fig8_dataset="mnist10k",
        fig8_model="lenet",
        few=(0, 1, 2, 3, 4),
    ),
}

#: The chapter: its experiments' grids per profile (``python -m c2f_utils.run --list lls``).
CHAPTER = register(
    Chapter(
        "lls",
        "lls.md",
        "Learnable label smoothing",
        {profile: _profile(**values) for profile, values in _PROFILES.items()},
        shared=(
            *("seed", "device", "dataset", "model", "alpha", "batch_size", "lr", "student", "epochs"),
            *("warmup_epochs", "schedule", "milestones", "weight_decay", "tsne_samples"),
        ),
    )
)
