"""Sphinx extension: the site renders completely offline, equations included.

Sphinx loads MathJax from a CDN by default, so a page opened without a network (a
workshop room, a train) shows raw LaTeX. This extension serves MathJax 3 from the site
itself: it copies ``es5/tex-svg-full.js`` (every TeX extension built in, so nothing is
fetched on demand; SVG output, so no font files) and MathJax's licence from the
``django-static-mathjax`` wheel (MathJax 3.2.2 packaged as static files, the only copy
installable with pip alone; it needs no Django) into ``_static/mathjax/`` and points
``mathjax_path`` there. It also switches off myst-nb's ipywidgets loader, which would
fetch its scripts from a CDN on every page with a progress bar, removes a script that
sphinx-thebe adds twice (a console error on every page) and sets the theme's colour mode
(another console error when unset).

After the build, :func:`external_assets` lists every script, stylesheet, image, font or
frame that a page would load from another host; ``tasks.py book`` fails when there is
one. Plain links (to papers, to the repository) are not assets and are allowed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

MATHJAX_FILE = "tex-svg-full.js"
STAGING = "_c2f_static"

# Attributes through which an HTML page loads something (not <a href>, which is a link).
_ASSET = re.compile(
    r"<(script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc=[\"']([^\"']+)[\"']"
    r"|<link\b[^>]*\bhref=[\"']([^\"']+)[\"'][^>]*>",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)[\"']?\s*\)", re.IGNORECASE)
_LINK_LOADS = re.compile(r"\brel=[\"'](stylesheet|preload|icon|shortcut icon|modulepreload|manifest)[\"']", re.I)


def mathjax_source() -> Path:
    """The folder of MathJax's ``es5`` build inside the installed ``mathjax`` wheel."""
    try:
        import mathjax  # the django-static-mathjax wheel's package
    except ImportError as exc:
        raise RuntimeError(
            "MathJax for the offline site is missing: install the book extra (pip install -e '.[book]'), "
            "which brings django-static-mathjax"
        ) from exc
    folder = Path(mathjax.__file__).parent / "static" / "mathjax"
    if not (folder / "es5" / MATHJAX_FILE).is_file():
        raise RuntimeError(f"Expected {folder / 'es5' / MATHJAX_FILE} in the installed mathjax package; reinstall it")
    return folder


def _stage_mathjax(app: Any, config: Any) -> None:
    source = mathjax_source()
    staging = Path(app.outdir).parent / STAGING
    target = staging / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    for name, src in ((MATHJAX_FILE, source / "es5" / MATHJAX_FILE), ("LICENSE", source / "LICENSE")):
        dst = target / name
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dst)
    config.html_static_path = [*config.html_static_path, str(staging)]
    config.mathjax_path = f"mathjax/{MATHJAX_FILE}"
    config.nb_ipywidgets_js = {}
    # pydata-sphinx-theme logs a console error on every page when no colour mode is set.
    config.html_context = {"default_mode": "auto", **config.html_context}


def _unique_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Drop repeated scripts from a page: sphinx-thebe registers its configuration script
    once per read phase, and a second ``const`` declaration is a syntax error in the browser."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        name = getattr(script, "filename", str(script)) or ""  # an inline script's is None or ""
        key = (name, tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: extensions add scripts to this list after us


def external_assets(html_dir: str | Path) -> dict[str, list[str]]:
    """Page (relative path) -> the URLs of other hosts it loads as assets.

    Scripts, images, frames and media (``src``), stylesheets, icons and preloads
    (``<link href>``) in every ``.html`` file, and ``url(...)`` in every ``.css`` file.
    A URL is external when it starts with ``http:``, ``https:`` or ``//``.
    """
    root = Path(html_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"Expected a built site in `html_dir`, got {root} (no such folder)")
    found: dict[str, list[str]] = {}
    for page in sorted(root.rglob("*.html")) + sorted(root.rglob("*.css")):
        text = page.read_text(errors="replace")
        urls: list[str] = []
        if page.suffix == ".css":
            urls = _CSS_URL.findall(text)
        else:
            for match in _ASSET.finditer(text):
                if match.group(3) is not None:
                    if _LINK_LOADS.search(match.group(0)):
                        urls.append(match.group(3))
                else:
                    urls.append(match.group(2))
        external = sorted({u for u in urls if u.startswith(("http:", "https:", "//"))})
        if external:
            found[str(page.relative_to(root))] = external
    return found


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _stage_mathjax)
    app.connect("html-page-context", _unique_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
