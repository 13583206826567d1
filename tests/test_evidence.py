"""Committed evidence: recording a profile's runs, reading them back as current, stale or missing."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from c2f_utils import evidence, report
from c2f_utils.experiments import Chapter, Config, Experiment, Grid, param
from c2f_utils.runs import RunOutput

CALLS: list[int] = []


@dataclass(frozen=True)
class Score(Experiment):
    name: ClassVar[str] = "test.score"
    seed: int = param("seed", ge=0)
    shift: float = param("added to every score")

    def run(self) -> dict[str, float]:
        CALLS.append(self.seed)
        return {"score": self.shift + 0.1 * self.seed}


def _chapter() -> Chapter:
    return Chapter(
        "toy",
        "toy.md",
        "Toy",
        {
            "quick": {"scores": Grid(Score(0, 1.0), {"seed": (0, 1, 2)})},
            "real": {"scores": Grid(Score(0, 2.0), {"seed": (0, 1, 2)})},
        },
    )


def card(config: Config) -> pd.DataFrame:
    scores = [r.metrics["score"] for r in config.results("scores")]
    where = report.where(config.profile, "toy", config["seeds"])
    return report.scorecard([report.Claim("scores exceed one", report.greater(scores, value=1.0, paired=False), where)])


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Chapter, Path]:
    chapter = _chapter()
    config = chapter.configure("real")
    for _, exp in config.plan():
        exp.cached()
    root = tmp_path / "results"
    folder = evidence.record(config, root=root)
    assert folder == root / "toy" / "real"
    return chapter, root


def test_recorded_runs_are_read_back_without_computing(recorded, isolated_cache: Path) -> None:
    chapter, root = recorded
    shutil.rmtree(isolated_cache / "runs")  # reading committed runs never needs (or fills) the cache
    CALLS.clear()
    config = evidence.committed(chapter, "real", root)
    scores = [r.metrics["score"] for r in config.results("scores")]
    assert scores == pytest.approx([2.0, 2.1, 2.2]) and CALLS == []
    assert [s.state for s in evidence.status(config)] == ["current"] * 3
    assert "3 runs, current: recorded at commit" in evidence.describe(config)
    manifest = evidence.manifest("toy", "real", root)
    assert [r["params"]["seed"] for r in manifest["runs"]] == [0, 1, 2]
    assert all(r["key"] == exp.key() for r, (_, exp) in zip(manifest["runs"], config.plan(), strict=True))


def _make_stale(root: Path) -> None:
    """What a code change does: the recorded keys no longer match the current ones."""
    folder = root / "toy" / "real"
    manifest = json.loads((folder / "manifest.json").read_text())
    for run in manifest["runs"]:
        old = folder / "runs" / run["experiment"] / run["key"]
        run["key"] = "0" * 32 if run["params"]["seed"] == 0 else run["key"]
        old.rename(old.parent / run["key"])
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_stale_runs_are_shown_as_stale_with_their_commit(recorded) -> None:
    chapter, root = recorded
    _make_stale(root)
    config = evidence.committed(chapter, "real", root)
    states = evidence.status(config)
    assert [s.state for s in states] == ["stale", "current", "current"]
    assert states[0].key == "0" * 32 and states[0].commit == states[1].commit
    results = config.results("scores")
    assert results[0].provenance["stale"] is True and "stale" not in results[1].provenance
    assert "stale: 1 of 3 runs recorded at commit" in evidence.describe(config)
    table = evidence.scorecards(card, chapter.configure("quick"), root=root)
    assert list(table.index) == [("scores exceed one", "quick"), ("scores exceed one", "real")]
    assert table.loc[("scores exceed one", "real"), "evidence"].startswith("stale: 1 of 3 runs")


def test_scorecards_put_profiles_side_by_side(recorded, monkeypatch: pytest.MonkeyPatch) -> None:
    chapter, root = recorded
    monkeypatch.setenv(evidence.RESULTS_DIR_ENV, str(root))
    table = evidence.scorecards(card, chapter.configure("quick"))
    assert table.loc[("scores exceed one", "quick"), "evidence"] == "executed live (quick)"
    assert table.loc[("scores exceed one", "real"), "evidence"].startswith("current: recorded at commit")
    assert table.loc[("scores exceed one", "real"), "ours"].startswith("2.1")
    assert table.loc[("scores exceed one", "quick"), "ours"].startswith("1.1")


def test_unrecorded_profile_is_missing_not_computed(tmp_path: Path) -> None:
    chapter = _chapter()
    config = evidence.committed(chapter, "real", tmp_path)
    CALLS.clear()
    with pytest.raises(evidence.EvidenceError, match="--profile real --executor local --record"):
        config.results("scores")
    assert CALLS == []
    assert "no committed runs (never recorded)" in evidence.describe(config)
    assert evidence.show(chapter, "real", lambda c: pytest.fail("drawn without runs"), root=tmp_path) is None
    table = evidence.scorecards(card, chapter.configure("quick"), root=tmp_path)
    assert list(table.index.get_level_values("profile")) == ["quick"]


def test_record_refuses_overrides_unfinished_runs_and_quick(tmp_path: Path) -> None:
    chapter = _chapter()
    with pytest.raises(ValueError, match=r"overrides of \['shift'\]"):
        evidence.record(chapter.configure("real", shift=3.0), root=tmp_path)
    with pytest.raises(evidence.EvidenceError, match="3 of 3 planned runs"):
        evidence.record(chapter.configure("real"), root=tmp_path)
    with pytest.raises(ValueError, match="committed profiles"):
        evidence.record(chapter.configure("quick"), root=tmp_path)
    assert not (tmp_path / "toy").exists()


def test_damaged_committed_file_is_an_error(recorded) -> None:
    chapter, root = recorded
    record = next((root / "toy" / "real" / "runs").glob("*/*/record.json"))
    data = json.loads(record.read_text())
    data["files"] = {"history.csv": "0" * 64}
    record.write_text(json.dumps(data))
    (record.parent / "history.csv").write_text("epoch\n1\n")
    with pytest.raises(ValueError, match="checksum mismatch") as caught:
        evidence.committed(chapter, "real", root).results("scores")
    assert f"test.score {record.parent.name}" in str(caught.value)  # the message names the run


def test_card_needing_absent_data_is_said_not_dropped(recorded) -> None:
    from c2f_utils.data import DatasetNotFoundError

    chapter, root = recorded

    def needs_data(config: Config) -> pd.DataFrame:
        if config.profile == "real":
            raise DatasetNotFoundError("Dataset 'toy': missing file /nowhere/toy.npy")
        return card(config)

    table = evidence.scorecards(needs_data, chapter.configure("quick"), root=root)
    row = table.loc[("(every claim of this profile)", "real")]
    assert "needs data absent here" in row["evidence"] and "/nowhere/toy.npy" in row["evidence"]
    assert row["verdict"] == "—"


@dataclass(frozen=True)
class Weighty(Experiment):
    name: ClassVar[str] = "test.weighty"
    seed: int = param("seed", ge=0)

    def run(self) -> RunOutput:
        return RunOutput({"score": float(self.seed)}, arrays={"weights": np.zeros(4000)})


def test_large_files_are_left_out_of_the_committed_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chapter = Chapter("heavy", "heavy.md", "Heavy", {"quick": {"w": Grid(Weighty(0))}, "real": {"w": Grid(Weighty(1))}})
    config = chapter.configure("real")
    config.runs("w")[0].cached()
    monkeypatch.setattr(evidence, "MAX_FILE_BYTES", 10_000)  # the 32 kB weights, not the record
    folder = evidence.record(config, root=tmp_path)
    assert [r["left_out"] for r in evidence.manifest("heavy", "real", tmp_path)["runs"]] == [["arrays.npz"]]
    assert not list(folder.glob("runs/*/*/arrays.npz")) and list(folder.glob("runs/*/*/record.json"))
    result = evidence.committed(chapter, "real", tmp_path).results("w")[0]
    assert result.metrics == {"score": 1.0} and result.arrays == {}


def _bench(name: str = "criteria_step", **extra) -> dict:
    return {"benchmark": name, "rows": [1, 2], **extra}


def test_benchmark_records_are_keyed_by_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "criteria_step_cpu.json").write_text(json.dumps(_bench(threads=2)))
    (tmp_path / "criteria_step_cuda.json").write_text(json.dumps(_bench(threads=16)))
    (tmp_path / "fit_epoch_cpu.json").write_text(json.dumps(_bench("fit_epoch")))
    records = evidence.benchmark_records("criteria_step", tmp_path)
    assert {k: v["threads"] for k, v in records.items()} == {"cpu": 2, "cuda": 16}
    monkeypatch.setenv(evidence.BENCHMARKS_DIR_ENV, str(tmp_path))
    assert list(evidence.benchmark_records("fit_epoch")) == ["cpu"]
    assert evidence.benchmarks_dir() == tmp_path


def test_benchmark_records_fail_naming_the_file_or_the_folder(tmp_path: Path) -> None:
    with pytest.raises(
        evidence.EvidenceError, match=re.escape(f"No record of benchmark 'criteria_step' in {tmp_path}")
    ):
        evidence.benchmark_records("criteria_step", tmp_path)
    with pytest.raises(ValueError, match=r"`name`.*'\.\./x'"):
        evidence.benchmark_records("../x", tmp_path)
    (tmp_path / "criteria_step_cpu.json").write_text(json.dumps(_bench("fit_epoch")))
    with pytest.raises(evidence.EvidenceError, match=r"criteria_step_cpu\.json to hold a record of benchmark"):
        evidence.benchmark_records("criteria_step", tmp_path)
    (tmp_path / "criteria_step_cpu.json").write_text("{not json")
    with pytest.raises(evidence.EvidenceError, match=r"criteria_step_cpu\.json is not valid JSON"):
        evidence.benchmark_records("criteria_step", tmp_path)


def test_the_committed_benchmarks_are_found() -> None:
    records = evidence.benchmark_records("criteria_step")
    assert "cpu" in records and all(r["provenance"]["git_commit"] for r in records.values())


def test_benchmark_claims_appear_once_across_profiles(recorded) -> None:
    chapter, root = recorded
    where = report.where_benchmark("toy_bench", "cpu", "3 repeats")

    def with_bench(config: Config) -> pd.DataFrame:
        claim = report.Claim("the benchmark is fast", report.greater([3.0, 3.1, 2.9], value=1.0, paired=False), where)
        return pd.concat([card(config), report.scorecard([claim])])

    table = evidence.scorecards(with_bench, chapter.configure("quick"), root=root)
    rows = table.xs("the benchmark is fast", level="claim")
    assert rows.index.tolist() == ["benchmark"]
    assert rows["evidence"].item() == "recorded benchmark (benchmarks/results)"
    assert table.xs("scores exceed one", level="claim").index.tolist() == ["quick", "real"]


def test_runs_from_another_platform_are_named_and_a_version_bump_makes_them_stale(
    recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from c2f_utils import identity

    chapter, root = recorded
    config = evidence.committed(chapter, "real", root)
    assert "another platform" not in evidence.describe(config)  # recorded here, read here
    here = identity.platform_facts()
    elsewhere = {**here, "cpu_model": "Other CPU", "torch_threads": here["torch_threads"] + 3}
    monkeypatch.setattr(evidence, "platform_facts", lambda: elsewhere)
    line = evidence.describe(config)
    assert "recorded on another platform: cpu_model" in line and f"(here {elsewhere['torch_threads']})" in line
    monkeypatch.setattr(Score, "uses", ("train",))  # a run that now declares a component: another key
    assert [s.state for s in evidence.status(config)] == ["stale"] * 3
