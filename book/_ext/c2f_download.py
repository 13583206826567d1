"""Sphinx extension: an ``.ipynb`` download button on every chapter.

The chapters are MyST Markdown notebooks; their notebook copies (``book/<chapter>.ipynb``,
``python3 tasks.py notebooks``) are what a reader runs in Jupyter, Colab or a workshop.
The theme (sphinx-book-theme) offers a ``.ipynb`` entry in its download menu when a page
names an ``ipynb_source``, which it does only for pages written as ``.ipynb``. This
extension names the copy for every page that has one, before the theme builds its buttons,
and copies the notebooks into ``_sources/`` of the site, where the button points: the
download works offline, from the site itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


def _copy_of(app: Any, pagename: str) -> Path | None:
    """The notebook copy of a page written in Markdown, or None."""
    source = Path(app.srcdir) / f"{pagename}.md"
    copy = source.with_suffix(".ipynb")
    return copy if source.is_file() and copy.is_file() else None


def _name_the_copy(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if _copy_of(app, pagename) is not None:
        context["ipynb_source"] = f"{pagename}.ipynb"


def _copy_the_notebooks(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for pagename in app.env.found_docs:
        copy = _copy_of(app, pagename)
        if copy is not None:
            target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(copy, target)


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _name_the_copy, priority=400)  # before the theme's header buttons (500)
    app.connect("build-finished", _copy_the_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
