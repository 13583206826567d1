"""The built site in a real browser, offline: every page of ``_build/html`` opened in headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium) with every host but
the local server unreachable.

Checked on every page: no console error, every image loaded, every equation typeset by MathJax
without an error, every internal link and anchor resolves; on every chapter: its executed
figures, a complete scorecard (no cell cut short), launch buttons that open the chapter's
``.ipynb`` copy and a download button that serves it from the site. A screenshot of each page
goes to ``_build/screenshots/`` (a CI artifact).

These tests need the built site (``python3 tasks.py book``) and a browser, and run when
``C2F_BROWSER_TESTS`` is set (``1``: skip with the reason when the site or the browser is
missing; ``required``, as CI sets it after building the book and installing the browser: fail
instead). Otherwise they are skipped: a site left from an earlier build would be tested, not the
code of the checkout.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("C2F_SITE_DIR", ROOT / "_build" / "html"))
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHAPTERS = ("setting", "fierce", "ls_ib", "lls", "ot_transfer", "synthesis")
MODE = os.environ.get("C2F_BROWSER_TESTS", "")
REQUIRED = MODE == "required"


def _unavailable(reason: str) -> None:
    if not MODE:
        pytest.skip("set C2F_BROWSER_TESTS=1 after python3 tasks.py book to test the built site in Chromium")
    if REQUIRED:
        pytest.fail(f"C2F_BROWSER_TESTS=required: {reason}")
    pytest.skip(reason)


def _pages() -> list[str]:
    if not (SITE / "index.html").is_file():
        return []
    skip = ("genindex.html", "search.html", "py-modindex.html")
    pages = (p for p in SITE.rglob("*.html") if p.name not in skip and not p.parent.name.startswith("_"))
    return sorted(str(p.relative_to(SITE)) for p in pages)


PAGES = _pages()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if not PAGES or not MODE:
        _unavailable(f"no built site in {SITE}: run python3 tasks.py book first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not MODE:
        _unavailable("")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (the dev extra)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        _unavailable("no Chromium or chromedriver: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    # Offline: every host but the local server fails to resolve.
    options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


_MATH_READY = """
const done = arguments[arguments.length - 1];
if (!document.querySelector('.math')) { done({math: 0, typeset: 0, errors: 0}); return; }
const count = () => ({
  math: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  errors: document.querySelectorAll('mjx-merror').length,
});
const wait = (tries) => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done(count()), (e) => done({failed: String(e)}));
  } else if (tries > 0) { setTimeout(() => wait(tries - 1), 100); }
  else { done({failed: 'MathJax never loaded', ...count()}); }
};
wait(100);
"""


def _open(browser, server: str, page: str) -> dict:
    browser.get(f"{server}/{page}")
    browser.set_script_timeout(60)
    math = browser.execute_async_script(_MATH_READY)
    broken_images = browser.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")))
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    return {"math": math, "broken_images": broken_images, "console_errors": errors}


@pytest.mark.parametrize("page", PAGES or ["(no site)"])
def test_page_renders_offline(browser, server, page: str) -> None:
    got = _open(browser, server, page)
    assert got["console_errors"] == []
    assert got["broken_images"] == []
    math = got["math"]
    assert "failed" not in math, math
    assert math["errors"] == 0 and math["typeset"] >= math["math"], f"equations not typeset: {math}"


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name"):
            if values.get(key):
                self.ids.add(values[key])
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])


@functools.cache
def _parsed(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(errors="replace"))
    return parser


def test_internal_links_and_anchors_resolve() -> None:
    if not PAGES or not MODE:
        _unavailable(f"no built site in {SITE}: run python3 tasks.py book first")
    broken = []
    for page in PAGES:
        source = SITE / page
        for href in _parsed(source).links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            target = (source.parent / unquote(parts.path)).resolve() if parts.path else source
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page}: {href} (no file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parsed(target).ids:
                broken.append(f"{page}: {href} (no anchor)")
    assert broken == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_figures_a_full_scorecard_and_notebook_launch_links(browser, server, chapter: str) -> None:
    page = f"book/{chapter}.html"
    browser.get(f"{server}/{page}")
    images = browser.execute_script(
        "return Array.from(document.images).filter(i => i.src.includes('/_images/') && i.naturalWidth > 0).length"
    )
    assert images >= 1, "no executed figure"
    tables = browser.execute_script(
        "return Array.from(document.querySelectorAll('table')).filter(t => t.innerText.includes('verdict'))"
        ".map(t => Array.from(t.querySelectorAll('td')).map(c => c.innerText))"
    )
    assert tables, "no scorecard"
    cut = [cell for table in tables for cell in table if cell.rstrip().endswith("...")]
    assert cut == [], "scorecard cells cut short"
    launch = browser.execute_script(
        "return Array.from(document.querySelectorAll('a')).map(a => a.href)"
        ".filter(h => h.includes('colab.research.google.com') || h.includes('mybinder.org'))"
    )
    assert len(launch) == 2, launch
    assert all(re.search(rf"book/{chapter}\.ipynb$", unquote(h)) for h in launch), launch
    assert all((ROOT / "book" / f"{chapter}.ipynb").is_file() for _ in launch)
    download = browser.execute_script(
        "return Array.from(document.querySelectorAll('a')).map(a => a.href).filter(h => h.endsWith('.ipynb')"
        " && h.includes('/_sources/'))"
    )
    assert [urlsplit(h).path.rsplit("/_sources/", 1)[1] for h in download] == [f"book/{chapter}.ipynb"], download
    served = SITE / "_sources" / "book" / f"{chapter}.ipynb"
    assert served.read_bytes() == (ROOT / "book" / f"{chapter}.ipynb").read_bytes(), "stale notebook download"
