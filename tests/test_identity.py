"""Run identity (c2f_utils.identity): keys from what a run declares, not from its source.

The package is copied to a temporary folder and edited there; keys and digests are read in
a fresh interpreter before and after the edit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import c2f_utils
from c2f_utils import chapters, identity

TESTS = Path(__file__).parent

PLAN_KEYS = """
import json, sys
import c2f_utils
from c2f_utils import chapters
out = {"__file__": c2f_utils.__file__}
for name, chapter in sorted(chapters.load_all().items()):
    for profile in chapter.profiles:
        for gid, exp in chapter.configure(profile).plan():
            out[f"{name}/{profile}/{gid}/{json.dumps(exp.params(), sort_keys=True)}"] = exp.key()
out["__heavy__"] = sorted(m for m in ("torch", "sklearn", "ot", "torchvision") if m in sys.modules)
print(json.dumps(out))
"""

FIERCE_DIGEST = """
import json, sys
sys.path.insert(0, sys.argv[1])
import c2f_utils
from behaviour import component_digest
assert c2f_utils.__file__.startswith(sys.argv[2]), c2f_utils.__file__
print(json.dumps(component_digest("losses.fierce")))
"""


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        Path(c2f_utils.__file__).parent, tmp_path / "c2f_utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def _run(root: Path, code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _plan_keys(root: Path) -> dict[str, str]:
    found = _run(root, PLAN_KEYS)
    assert Path(found.pop("__file__")).is_relative_to(root)  # the edited copy, not the installed package
    assert found.pop("__heavy__") == [], "planning imported the computing libraries"
    return found


def _edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / "c2f_utils" / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))


def test_inert_edits_keep_every_planned_key(package_copy: Path) -> None:
    before = _plan_keys(package_copy)
    assert len(before) > 250 and any(k.startswith("fierce/real/") for k in before)
    _edit(
        package_copy, "_checks.py", "\ndef ", "\ndef unused_helper(value: int) -> int:\n    return value + 1\n\n\ndef "
    )
    _edit(
        package_copy, "data/__init__.py", "\n__all__", "\n\ndef unused_loader_helper() -> None:\n    pass\n\n\n__all__"
    )
    _edit(package_copy, "_checks.py", "Expected `", "Expected the argument `")  # every message reworded
    _edit(package_copy, "losses/fierce.py", '"""', '"""Edited docstring. ')
    assert _plan_keys(package_copy) == before


@pytest.mark.slow
def test_scaling_the_fierce_entropy_term_fails_its_behaviour_digest(package_copy: Path) -> None:
    from behaviour import DIGESTS, differences

    recorded = json.loads((DIGESTS / "components.json").read_text())["losses.fierce"]
    same = _run(package_copy, FIERCE_DIGEST, str(TESTS), str(package_copy))
    assert differences(recorded["outputs"], same["outputs"]) == []
    _edit(package_copy, "losses/fierce.py", "return ce - self.lam * h", "return ce - 1.01 * self.lam * h")
    scaled = _run(package_copy, FIERCE_DIGEST, str(TESTS), str(package_copy))
    assert "loss" in differences(recorded["outputs"], scaled["outputs"])
    # and the keys did not change: the failing digest test is what catches it, until the version is bumped
    assert scaled["version"] == recorded["version"]


def test_bumping_a_component_re_keys_exactly_the_runs_that_declare_it(monkeypatch: pytest.MonkeyPatch) -> None:
    plans = [(c, p, exp) for c in chapters.load_all().values() for p in c.profiles for _, exp in c.configure(p).plan()]
    before = [exp.key() for _, _, exp in plans]
    monkeypatch.setitem(identity.COMPONENTS, "losses.fierce", identity.COMPONENTS["losses.fierce"] + 1)
    after = [exp.key() for _, _, exp in plans]
    changed = {i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b}
    users = {i for i, (_, _, exp) in enumerate(plans) if "losses.fierce" in exp.components()}
    assert changed == users and users
    assert {exp.name.split(".")[0] for _, _, exp in (plans[i] for i in users)} == {"fierce", "synthesis"}


def test_an_experiment_version_re_keys_its_runs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from c2f_utils.chapters import setting

    config = setting.CHAPTER.configure("real")
    train, raw = config.runs("train")[0], config.runs("raw")[0]
    keys = train.key(), raw.key()
    monkeypatch.setattr(setting.TrainAndProbe, "version", 2)
    assert train.key() != keys[0] and raw.key() == keys[1]


def test_every_experiment_declares_components_that_exist() -> None:
    for chapter in chapters.load_all().values():
        for profile in chapter.profiles:
            for _, exp in chapter.configure(profile).plan():
                assert set(exp.components()) <= set(identity.COMPONENTS), exp.name
                assert "train" in exp.components() or not hasattr(exp, "epochs"), exp.name


def test_run_key_is_the_sha256_of_the_canonical_declaration() -> None:
    declared = identity.declaration(3, ["train", "losses.fierce"])
    assert declared["components"] == {"losses.fierce": identity.COMPONENTS["losses.fierce"], "train": 1}
    assert declared["libraries"] == identity.library_versions()
    blob = json.dumps(
        {"name": "a.b", "params": {"x": [1, 2]}, "declared": declared}, sort_keys=True, separators=(",", ":")
    )
    assert identity.run_key("a.b", {"x": (1, 2)}, declared) == hashlib.sha256(blob.encode()).hexdigest()[:32]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: identity.component_versions(["losses.nope"]), "Unknown component"),
        (lambda: identity.component_versions("train"), "names"),
        (lambda: identity.declaration(0, []), "version"),
        (lambda: identity.declaration(True, []), "version"),
        (lambda: identity.run_key("bad/name", {}, {"v": 1}), "name"),
        (lambda: identity.run_key("a", {}, {}), "declared"),
        (lambda: identity.canonical({"x": float("nan")}, "params"), "finite"),
        (lambda: identity.canonical({1: 2}, "params"), "string keys"),
    ],
)
def test_identity_refuses_bad_arguments_naming_them(call, match: str) -> None:
    with pytest.raises((ValueError, TypeError, KeyError), match=match):
        call()


def test_platform_differences_compare_only_the_facts_both_name() -> None:
    here = {"device": "cpu (x86_64)", "cpu_model": "A", "torch_threads": 2, "cuda": None}
    assert identity.platform_differences({"device": "cpu (x86_64)", "torch_threads": 2}, here) == {}
    assert identity.platform_differences({"torch_threads": 1, "cpu_model": "B"}, here) == {
        "cpu_model": ("B", "A"),
        "torch_threads": (1, 2),
    }
    facts = identity.platform_facts()
    assert set(identity.PLATFORM_FACTS) <= set(facts) and facts["torch_threads"] >= 1


def test_canonical_values_give_one_key_per_value() -> None:
    declared = {"version": 1}
    assert identity.run_key("a", {"x": -0.0}, declared) == identity.run_key("a", {"x": 0.0}, declared)
    assert identity.run_key("a", {"x": np.float32(0.5), "n": np.int64(3), "b": np.bool_(True)}, declared) == (
        identity.run_key("a", {"x": 0.5, "n": 3, "b": True}, declared)
    )
    assert identity.canonical({"b": np.bool_(False)}, "params") == {"b": False}
