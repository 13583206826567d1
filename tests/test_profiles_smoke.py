"""Every chapter's real and paper profiles execute under --smoke on fake copies of their datasets.

The fake copies (:mod:`fake_data`) are written in each dataset's public on-disk format, so
these runs go through the same loaders, models, criteria and probes as the full profiles,
cut to one seed, one epoch and a few batches of at most 16 images per epoch
(:meth:`Chapter.smoke_values`, ``$C2F_SMOKE``): every run of a real profile's plan, the first
run of each grid of a paper profile (``_smoke_plan``; OT transfer's paper profile is run, every
run of it, in tests/test_chapters_ot_transfer.py). No GPU, no network, no real file is needed.
Their metrics are the experiments' behaviour digests (``tests/digests/<chapter>-<profile>.json``): a change at
the same declared versions fails (:func:`behaviour.check_smoke_digests`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from behaviour import check_smoke_digests, smoke_digest, smoke_id
from fake_data import accept_fake_cifar_batches

from c2f_utils import chapters, run
from c2f_utils.train import SMOKE_ENV

# OT transfer's paper profile runs every run of its plan, with its digests, in
# tests/test_chapters_ot_transfer.py (on smaller fake copies of its two datasets).
ELSEWHERE = {("ot_transfer", "paper")}
CASES = [
    (name, profile)
    for name, chapter in sorted(chapters.load_all().items())
    for profile in ("real", "paper")
    if profile in chapter.profiles and (name, profile) not in ELSEWHERE
]


# Overrides on top of the smoke values, each with its reason.
EXTRA = {
    # The fake CIFAR-10 copy holds 20 training images a class: 5 shots and 5 for validation.
    ("ot_transfer", "real"): {"shots": 5},
    # The paper's 10,000 few-shot episodes make its intervals narrow, not its code path longer.
    ("fierce", "paper"): {"fewshot.episodes": 100},
}

# A paper profile runs the first experiment of each grid here: its networks, datasets and sizes at
# paper scale. What a grid sweeps (criteria, strengths, methods, seeds) is the same code at every
# scale, and the real profile's smoke run covers it with every experiment of its plan; the lines of
# c2f_utils these tests execute are the same either way (coverage.py; numbers in the README's
# "Quick start"). C2F_SMOKE_EVERY_RUN=1 runs the paper profiles' whole plans too (about seven
# minutes, one worker), as `python3 tasks.py digests` does: the digests hold every run.
EVERY_RUN = bool(os.environ.get("C2F_SMOKE_EVERY_RUN"))


def _smoke_plan(config, profile: str):
    """The runs of ``config`` this test makes: all of a real profile, one per grid of a paper profile."""
    seen = set()
    for gid, exp in config.plan():
        if profile == "real" or EVERY_RUN or gid not in seen:
            seen.add(gid)
            yield gid, exp


def _held_out(name: str, profile: str, data_dir: Path) -> dict[str, list[int]]:
    """The synthesis chapter holds two classes out for few-shot transfer; the fake CIFAR-100 has
    several test images only for CIFAR-FS's novel classes (one for the others): hold two of those out."""
    if (name, profile) != ("synthesis", "paper"):
        return {}
    import json

    names = [fine for _, fine in json.loads((data_dir / "splits" / "cifar-fs" / "test.json").read_text())]
    return {"held_out": sorted(int(n.removeprefix("class_")) for n in names)[:2]}


@pytest.fixture(scope="session")
def fake_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A ResNet-101 state dict under torchvision's file name (random weights) and its SHA-256."""
    import hashlib

    import torch
    from torchvision.models import resnet101

    folder = tmp_path_factory.mktemp("weights")
    path = folder / "resnet101-63fe2227.pth"
    torch.save(resnet101().state_dict(), path)
    return folder, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def on_fake_data(fake_data_dir: Path, fake_weights, monkeypatch: pytest.MonkeyPatch) -> Path:
    from c2f_utils import weights

    monkeypatch.setenv("C2F_DATA_DIR", str(fake_data_dir))
    monkeypatch.setenv(SMOKE_ENV, "1")
    accept_fake_cifar_batches(monkeypatch)  # torchvision checks the MD5 of the original CIFAR batches
    folder, digest = fake_weights
    monkeypatch.setenv("C2F_WEIGHTS_DIR", str(folder))
    monkeypatch.setattr(weights, "hash_prefix", lambda w: digest[:8])  # the fake file stands for torchvision's
    return fake_data_dir


def test_every_chapter_declares_real_and_paper() -> None:
    missing = [f"{n}/{p}" for n, c in chapters.load_all().items() for p in ("real", "paper") if p not in c.profiles]
    assert missing == [], f"profiles not declared yet: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "profile"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_profile_runs_under_smoke(name: str, profile: str, on_fake_data: Path) -> None:
    chapter = chapters.get(name)
    smoke = chapter.smoke_values(profile)
    config = chapter.configure(
        profile, **{**smoke, **EXTRA.get((name, profile), {}), **_held_out(name, profile, on_fake_data)}
    )
    assert run.check_data(config) == []
    found = {}
    for gid, exp in _smoke_plan(config, profile):
        assert all(getattr(exp, f) <= 1 for f in vars(exp) if f.endswith("epochs")), (gid, exp)
        result = exp.cached()
        assert result.metrics or result.arrays, f"{gid}: {exp.name} reported nothing"
        finite = [v for v in result.metrics.values() if v is not None and math.isfinite(v)]
        assert finite or not result.metrics, f"{gid}: {exp.name} reported no finite metric: {result.metrics}"
        found[smoke_id(exp)] = smoke_digest(exp, result.metrics)
    check_smoke_digests(f"{name}-{profile}", found)


@pytest.mark.slow
def test_runner_smoke_uses_its_own_cache(on_fake_data: Path, isolated_cache: Path, capsys) -> None:
    argv = ["setting", "--profile", "real", "--smoke", "--executor", "local", "--workers", "1", "--no-notebook"]
    assert run.main(argv) == 0
    assert "runs: 0 cached, 3 done, 0 failed" in capsys.readouterr().out  # coarse + fine, seed 0; raw probe
    assert (isolated_cache / "smoke" / "runs").is_dir() and not (isolated_cache / "runs").exists()


def test_check_data_reports_everything_missing_at_once(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("C2F_DATA_DIR", str(tmp_path))
    assert run.main(["fierce", "--profile", "real", "--check-data"]) == 2
    out = capsys.readouterr().out
    assert "3 missing or unreadable data file(s)" in out
    for name in ("utkface", "samson", "cifar10_jpeg"):
        assert f"- {name} (" in out


def test_check_data_passes_on_complete_data(on_fake_data: Path, capsys) -> None:
    assert run.main(["fierce", "--profile", "real", "--check-data"]) == 0
    assert "every dataset found" in capsys.readouterr().out
