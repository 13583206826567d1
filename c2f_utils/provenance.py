"""Provenance: where and with what a result was computed, kept beside it, never in its key.

:func:`provenance` is written into every run record (:func:`c2f_utils.runs.cached_run`), every
committed manifest (:mod:`c2f_utils.evidence`) and every benchmark result: the package's
version and git commit, the platform facts that move the last bits of a number
(:func:`c2f_utils.identity.platform_facts`), the numerical libraries' versions, and the time.
"""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import __version__, identity

__all__ = ["provenance"]


@lru_cache(maxsize=1)
def _git_commit() -> str | None:
    """Commit of the git checkout the package is imported from, if it is one."""
    root = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            # results/ holds recorded runs, not code: recording one profile must not mark the next as dirty
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)results"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def provenance() -> dict[str, Any]:
    """Where and with what a result was computed: versions, commit, platform, time."""
    return {
        "package_version": __version__,
        "git_commit": _git_commit(),
        **identity.platform_facts(),
        **identity.library_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "finished_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
