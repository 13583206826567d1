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

from ..experiments import Chapter

__all__ = ["CHAPTERS", "get", "load_all", "register"]

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
