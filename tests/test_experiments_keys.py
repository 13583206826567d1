"""Cache keys depend on the code a run executes, and on nothing else.

The package is copied to a temporary folder, edited there, and every experiment's
fingerprint is read in a fresh interpreter before and after the edit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import c2f_utils

PROBE = """
import inspect, json
import c2f_utils
from c2f_utils import chapters, experiments
chapters.load_all()
out = {"__file__": c2f_utils.__file__}
for chapter in chapters.CHAPTERS.values():
    module = inspect.getmodule(type(next(iter(chapter.profiles["quick"].values())).base))
    for name, obj in vars(module).items():
        if inspect.isclass(obj) and issubclass(obj, experiments.Experiment) and obj.__module__ == module.__name__:
            _, mods = experiments.code_dependencies(obj)
            out[f"{module.__name__}.{name}"] = {"key": experiments.code_fingerprint(obj), "modules": mods}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pkg")
    shutil.copytree(Path(c2f_utils.__file__).parent, root / "c2f_utils", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _fingerprints(root: Path) -> dict[str, dict]:
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", PROBE]
    out = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    assert Path(found.pop("__file__")).is_relative_to(root)  # the edited copy, not the installed package
    return found


def _edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / "c2f_utils" / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))


def test_presentation_edits_change_no_key_and_a_loss_edit_changes_only_its_users(package_copy: Path) -> None:
    before = _fingerprints(package_copy)
    assert "c2f_utils.chapters.setting.TrainAndProbe" in before

    # Presentation: plots, the report layer, a chapter's plot and scorecard, docstrings and comments.
    _edit(package_copy, "plots.py", "\ndef ", "\ndef _added_plot_helper():\n    return 1\n\n\ndef ")
    _edit(package_copy, "report.py", 'POLICY_PAGE = "verdicts.md"', 'POLICY_PAGE = "policy.md"')
    _edit(package_copy, "chapters/setting.py", 'title: str = ""):', 'title: str = "") -> None:  # edited')
    _edit(package_copy, "chapters/setting.py", '"coarse training keeps fine', '"coarse-trained networks keep fine')
    _edit(package_copy, "losses/fierce.py", '"""', '"""Edited docstring. ')
    _edit(package_copy, "probes/linear.py", "\nimport ", "\n# a new comment\nimport ")
    assert _fingerprints(package_copy) == before

    # Computation: a loss module changes the keys of exactly the experiments that reach it.
    _edit(package_copy, "losses/fierce.py", "\nclass ", "\n_EDITED = 1\n\n\nclass ")
    after = _fingerprints(package_copy)
    changed = {k for k in before if before[k]["key"] != after[k]["key"]}
    users = {k for k, v in before.items() if "c2f_utils.losses.fierce" in v["modules"]}
    assert changed == users
    assert "c2f_utils.chapters.setting.TrainAndProbe" not in changed

    # A chapter helper changes the experiments that call it; a probe both experiments use changes both.
    setting = "c2f_utils.chapters.setting."
    _edit(package_copy, "chapters/setting.py", '    if dataset == "digits":', '    if dataset in ("digits",):')
    model_edit = _fingerprints(package_copy)
    assert model_edit[setting + "TrainAndProbe"]["key"] != after[setting + "TrainAndProbe"]["key"]
    assert model_edit[setting + "RawInputProbe"]["key"] == after[setting + "RawInputProbe"]["key"]
    _edit(package_copy, "probes/linear.py", "\ndef ", "\n_EDITED = 2\n\n\ndef ")
    probe_edit = _fingerprints(package_copy)
    for name in ("TrainAndProbe", "RawInputProbe"):
        assert probe_edit[setting + name]["key"] != model_edit[setting + name]["key"]
