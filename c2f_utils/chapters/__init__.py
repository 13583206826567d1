"""The book's chapters: each module declares its experiments and its :class:`~c2f_utils.experiments.Chapter`.

A chapter module holds its experiments (typed, cached computation: subclasses of
:class:`~c2f_utils.experiments.Experiment`) and its report (tables, plots, scorecard
built with :mod:`c2f_utils.report`); it registers one
:class:`~c2f_utils.experiments.Chapter` as ``CHAPTER``. The runner
(``python -m c2f_utils.run``) finds chapters here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

import pandas as pd

from ..experiments import Chapter

__all__ = ["CHAPTERS", "collect_cards", "get", "load_all", "register"]

CHAPTERS: dict[str, Chapter] = {}


def register(chapter: Chapter) -> Chapter:
    """Add a chapter to :data:`CHAPTERS` (once per name)."""
    if not isinstance(chapter, Chapter):
        raise TypeError(f"Expected `chapter` to be a Chapter, got {chapter!r}")
    if chapter.name in CHAPTERS and CHAPTERS[chapter.name] is not chapter:
        raise ValueError(f"A chapter named {chapter.name!r} is already registered")
    CHAPTERS[chapter.name] = chapter
    return chapter


def load_all() -> dict[str, Chapter]:
    """Import every chapter module of this package (each registers its chapter) and return the registry."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return CHAPTERS


def get(name: str) -> Chapter:
    """The registered chapter ``name``."""
    load_all()
    if name not in CHAPTERS:
        raise KeyError(f"Unknown chapter {name!r}; chapters: {sorted(CHAPTERS)}")
    return CHAPTERS[name]


def collect_cards(
    chapters: Sequence[str] | None = None, profiles: Sequence[str] = ("real", "paper"), root: str | None = None
) -> tuple[dict[str, dict[str, pd.DataFrame]], list[str]]:
    """The scorecard of each of ``chapters`` (default: every registered chapter, in this order)
    for each committed profile that has recorded runs, read from ``results/`` (never
    recomputed), and one line per profile on its evidence (:func:`c2f_utils.evidence.describe`)."""
    from .. import evidence

    cards: dict[str, dict[str, pd.DataFrame]] = {}
    notes: list[str] = []
    registry = load_all()
    names = list(registry) if chapters is None else chapters
    if isinstance(names, str | bytes) or not isinstance(names, Sequence) or not set(names) <= set(registry):
        raise ValueError(f"Expected `chapters` to be a list of chapters among {sorted(registry)}, got {chapters!r}")
    for name in names:
        chapter = registry[name]
        module = importlib.import_module(f"{__name__}.{name}")
        for profile in profiles:
            if profile not in chapter.profiles:
                continue
            config = evidence.committed(chapter, profile, root)
            states = evidence.status(config)
            if any(s.state == "missing" for s in states):
                continue
            cards.setdefault(name, {})[profile] = module.card(config)
            notes.append(evidence.describe(config, states))
    return cards, notes
