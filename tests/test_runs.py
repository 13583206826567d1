"""Cached runs: reuse, resume after an interruption, atomic writes, corrupt entries, provenance."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c2f_utils import runs


class Counter:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, a: int, b: float = 0.5) -> runs.RunOutput:
        self.calls.append({"a": a, "b": b})
        return runs.RunOutput(
            metrics={"score": a * b},
            history=pd.DataFrame({"epoch": [1, 2], "loss": [1.0 / (a + 1), 0.1 + 1e-17]}),
            arrays={"w": np.arange(a + 1, dtype=np.float32)},
        )


def test_finished_run_is_reused(tmp_path: Path) -> None:
    fn = Counter()
    first = runs.cached_run("exp", fn, {"a": 2, "b": 0.25}, cache_dir=tmp_path)
    second = runs.cached_run("exp", fn, {"b": 0.25, "a": 2}, cache_dir=tmp_path)
    assert len(fn.calls) == 1 and not first.cached and second.cached
    assert second.metrics == {"score": 0.5}
    pd.testing.assert_frame_equal(first.history, second.history)
    np.testing.assert_array_equal(second.arrays["w"], np.arange(3, dtype=np.float32))
    runs.cached_run("exp", fn, {"a": 3, "b": 0.25}, cache_dir=tmp_path)
    assert len(fn.calls) == 2


def test_provenance_is_recorded(tmp_path: Path) -> None:
    res = runs.cached_run("exp", Counter(), {"a": 1}, cache_dir=tmp_path)
    record = json.loads((res.path / "record.json").read_text())
    prov = record["provenance"]
    assert record["params"] == {"a": 1}
    keys = ("package_version", "git_commit", "device", "cpu_model", "torch_threads", "torch", "numpy", "pot")
    keys += ("wall_time_s", "declared")
    for key in keys:
        assert key in prov
    assert prov["wall_time_s"] >= 0


def test_interrupted_sweep_resumes(tmp_path: Path) -> None:
    calls: list[int] = []

    def make(fail_at: int | None):
        def fn(a: int) -> dict:
            calls.append(a)
            if a == fail_at:
                raise KeyboardInterrupt  # the sweep is killed during run 3
            return {"a": float(a)}

        return fn

    def sweep(fn) -> list[runs.RunResult]:
        return [runs.cached_run("sw", fn, {"a": a}, cache_dir=tmp_path, declared={"fixed": 1}) for a in range(5)]

    with pytest.raises(KeyboardInterrupt):
        sweep(make(fail_at=3))
    assert calls == [0, 1, 2, 3]
    calls.clear()
    results = sweep(make(fail_at=None))
    assert calls == [3, 4]  # runs 0-2 were read back
    assert [r.metrics["a"] for r in results] == [0, 1, 2, 3, 4]
    assert [r.cached for r in results] == [True, True, True, False, False]


def test_interrupted_write_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fn = Counter()
    real_rename = os.rename

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(OSError, match="disk full"):
        runs.cached_run("exp", fn, {"a": 1}, cache_dir=tmp_path)
    monkeypatch.setattr(os, "rename", real_rename)
    leftovers = list((tmp_path / "runs" / "exp").iterdir())
    assert leftovers == []  # the temporary folder was removed, no partial entry is visible
    res = runs.cached_run("exp", fn, {"a": 1}, cache_dir=tmp_path)
    assert not res.cached and len(fn.calls) == 2


@pytest.mark.parametrize(
    "damage", ["truncate_history", "garble_record", "delete_arrays", "edit_params", "edit_metrics", "no_digest"]
)
def test_corrupt_entry_is_recomputed(tmp_path: Path, damage: str) -> None:
    fn = Counter()
    entry = runs.cached_run("exp", fn, {"a": 4}, cache_dir=tmp_path).path
    if damage == "truncate_history":
        (entry / "history.csv").write_text("epoch,loss\n1,")
    elif damage == "garble_record":
        (entry / "record.json").write_text("{not json")
    elif damage == "delete_arrays":
        (entry / "arrays.npz").unlink()
    else:
        record = json.loads((entry / "record.json").read_text())
        if damage == "edit_params":
            record["params"]["a"] = 5  # an entry whose content does not match its key
        elif damage == "edit_metrics":
            record["metrics"]["score"] = 0.5  # caught by the record's digest alone
        else:
            del record["digest"]
        (entry / "record.json").write_text(json.dumps(record))
    with pytest.warns(runs.CorruptCacheWarning, match="recomputing"):
        res = runs.cached_run("exp", fn, {"a": 4}, cache_dir=tmp_path)
    assert not res.cached and len(fn.calls) == 2 and res.metrics == {"score": 2.0}
    assert runs.cached_run("exp", fn, {"a": 4}, cache_dir=tmp_path).cached


def test_env_variable_selects_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path / "elsewhere"))
    res = runs.cached_run("exp", Counter(), {"a": 1})
    assert res.path.is_relative_to(tmp_path / "elsewhere")


def test_key_depends_on_params_and_declaration() -> None:
    d0, d1 = {"version": 1}, {"version": 2}
    assert runs.run_key("x", {"a": 1}, d0) == runs.run_key("x", {"a": 1}, dict(d0))
    assert runs.run_key("x", {"a": 1}, d0) != runs.run_key("x", {"a": 2}, d0)
    assert runs.run_key("x", {"a": 1}, d0) != runs.run_key("x", {"a": 1}, d1)
    assert runs.run_key("x", {"a": 1}, d0) != runs.run_key("y", {"a": 1}, d0)
    assert runs.run_key("x", {"a": (1, 2)}, d0) == runs.run_key("x", {"a": [1, 2]}, d0)
    with pytest.raises(ValueError, match="declared"):
        runs.run_key("x", {}, {})


@pytest.mark.parametrize(("params", "error"), [({"a": object()}, TypeError), ({"a": float("nan")}, ValueError)])
def test_invalid_params_are_rejected(tmp_path: Path, params: dict, error: type) -> None:
    with pytest.raises(error, match=r"params\.a"):
        runs.cached_run("exp", Counter(), params, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="name"):
        runs.run_key("bad name/", {}, {"v": 1})


def test_results_frame(tmp_path: Path) -> None:
    results = [runs.cached_run("sw", Counter(), {"a": a}, cache_dir=tmp_path) for a in (1, 2)]
    assert runs.results_frame(results).score.tolist() == [0.5, 1.0]


def test_publish_results_only_under_the_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runs.RESULTS_ENV, raising=False)
    assert runs.publish_results({"x": 1}) is None
    monkeypatch.setenv(runs.RESULTS_ENV, str(tmp_path / "r.json"))
    runs.publish_results({"x": 1, "ci": float("nan")})
    assert json.loads((tmp_path / "r.json").read_text()) == {"x": 1, "ci": None}


# --------------------------------------------------------------------------- hardening (names, values, writers)


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "../x", "", "é"])
def test_run_names_cannot_leave_the_cache_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        runs.cached_run(name, Counter(), {"a": 1}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="name"):
        runs.entry_path(name, "ab12", tmp_path)
    with pytest.raises(ValueError, match="key"):
        runs.entry_path("exp", "../../x", tmp_path)
    assert not any(tmp_path.rglob("record.json"))


def test_parameter_keys_must_be_strings() -> None:
    """{1: "a"} and {"1": "a"} would serialise alike: the first is refused, not collapsed."""
    with pytest.raises(TypeError, match=r"params\.d.*1"):
        runs.run_key("x", {"d": {1: "a"}}, {"v": 1})
    assert runs.run_key("x", {"d": {"1": "a"}}, {"v": 1})


def test_unreadable_arrays_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    def fn(a: int) -> runs.RunOutput:
        return runs.RunOutput(metrics={"m": 1.0}, arrays={"ragged": np.array([[1], [1, 2]], dtype=object)})

    with pytest.raises(TypeError, match=r"arrays\['ragged'\].*object"):
        runs.cached_run("exp", fn, {"a": 1}, cache_dir=tmp_path)
    assert not (tmp_path / "runs" / "exp").exists() or not any((tmp_path / "runs" / "exp").iterdir())


def test_fresh_and_cached_results_are_identical(tmp_path: Path) -> None:
    def fn(a: int) -> runs.RunOutput:
        history = pd.DataFrame({"epoch": np.arange(3, dtype=np.int32), "loss": np.float32([0.5, 0.25, 1 / 3])})
        return runs.RunOutput(metrics={"m": np.float32(0.1), "n": np.int64(3)}, history=history, arrays={"w": [1, 2]})

    fresh = runs.cached_run("exp", fn, {"a": 1}, cache_dir=tmp_path)
    again = runs.cached_run("exp", fn, {"a": 1}, cache_dir=tmp_path)
    assert not fresh.cached and again.cached
    assert fresh.metrics == again.metrics and [type(v) for v in fresh.metrics.values()] == [float, int]
    pd.testing.assert_frame_equal(fresh.history, again.history, check_exact=True)
    assert fresh.arrays.keys() == again.arrays.keys() and fresh.arrays["w"].dtype == again.arrays["w"].dtype
    assert fresh.provenance == again.provenance and fresh.path == again.path


def test_leftovers_of_interrupted_writes_are_cleaned(tmp_path: Path) -> None:
    runs.cached_run("exp", Counter(), {"a": 1}, cache_dir=tmp_path)
    folder = tmp_path / "runs" / "exp"
    host = runs._host()
    dead = folder / f".tmp-{'a' * 32}-{host}-{2**22 + 12345}-0123abcd"  # no such pid
    live = folder / f".tmp-{'b' * 32}-{host}-{os.getpid()}-0123abcd"  # a writer still at work
    old = folder / f".trash-{'c' * 32}-89abcdef"  # an older naming, a day old
    for path in (dead, live, old):
        path.mkdir()
        (path / "record.json").write_text("{}")
    os.utime(old, (0, 0))
    entry = next(p for p in folder.iterdir() if not p.name.startswith("."))  # the finished run
    orphan = folder / f".ckpt-{entry.name}"  # killed after storing its result, before deleting these
    running = folder / f".ckpt-{'d' * 32}"  # checkpoints of a run still without an entry: kept
    for path in (orphan, running):
        path.mkdir()
        (path / "fit-0.pt").write_bytes(b"")
    removed = runs.clean_leftovers(folder)
    assert sorted(removed) == sorted([dead, old, orphan]) and live.is_dir() and running.is_dir()


def _compute_once(cache: str, log: str, barrier, scores) -> None:
    def fn(a: int) -> dict:
        with open(log, "a") as f:
            f.write("computed\n")
        return {"score": float(a)}

    barrier.wait()
    scores.put(runs.cached_run("exp", fn, {"a": 7}, cache_dir=cache, declared={"fixed": 1}).metrics["score"])


def test_concurrent_writers_of_one_key_compute_it_once(tmp_path: Path) -> None:
    """Two processes asking for one key at once: one computes, the other waits and reads its entry."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    barrier, scores, log = ctx.Barrier(2), ctx.Queue(), tmp_path / "calls.log"
    procs = [ctx.Process(target=_compute_once, args=(str(tmp_path / "cache"), str(log), barrier, scores)) for _ in "ab"]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert [scores.get(timeout=5), scores.get(timeout=5)] == [7.0, 7.0]
    assert log.read_text().count("computed") == 1
    entries = list((tmp_path / "cache" / "runs" / "exp").iterdir())
    assert len(entries) == 1 and (entries[0] / "record.json").is_file()


def test_a_filesystem_without_locks_still_gets_its_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    def no_locks(fd: int, op: int) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    fn = Counter()
    first = runs.cached_run("exp", fn, {"a": 2}, cache_dir=tmp_path)
    assert not first.cached and runs.cached_run("exp", fn, {"a": 2}, cache_dir=tmp_path).cached
    assert len(fn.calls) == 1


def test_record_digest_covers_parameters_metrics_and_provenance(tmp_path: Path) -> None:
    entry = runs.cached_run("exp", Counter(), {"a": 4}, cache_dir=tmp_path).path
    record = json.loads((entry / "record.json").read_text())
    assert record["digest"] == runs.record_digest(record)
    body = {k: v for k, v in record.items() if k != "digest"}
    expected = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert record["digest"] == expected  # an independent recomputation of the canonical JSON's SHA-256
    for field, value in [("metrics", {"score": 2.5}), ("params", {"a": 3}), ("provenance", {"torch": "0"})]:
        (entry / "record.json").write_text(json.dumps({**record, field: value}))
        with pytest.raises(ValueError, match=r"checksum mismatch for record\.json"):
            runs.read_entry(entry, "exp")
