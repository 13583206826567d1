"""Sweeps through every executor give the sequential results; the shared cache survives concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from c2f_utils import runs
from c2f_utils.chapters import setting
from c2f_utils.sweep import sweep, waves

TINY = {"epochs": 1, "seeds": [0, 1], "probe_every": 1}


def _entries(cache: Path) -> dict[str, dict]:
    out = {}
    for entry in (cache / "runs").glob("*/*"):
        if not entry.name.startswith("."):
            out[f"{entry.parent.name}/{entry.name}"] = runs.read_entry(entry, entry.parent.name).metrics
    return out


# The executors' test: one seed (the coarse and fine networks and the raw-input probe, three
# runs, two of them at once); every submitit job is a process of its own.
ONE_SEED = {**TINY, "seeds": [0]}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    cache = tmp_path_factory.mktemp("sequential")
    config = setting.CHAPTER.configure("quick", **ONE_SEED)
    for _, exp in config.plan():
        exp.cached(cache_dir=str(cache))
    return _entries(cache)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "dask", "submitit"])
def test_each_executor_gives_the_sequential_cache_and_reruns_compute_nothing(
    executor: str, sequential: dict, tmp_path: Path
) -> None:
    config = setting.CHAPTER.configure("quick", **ONE_SEED)
    options = {"cluster": "local", "folder": str(tmp_path / "jobs")} if executor == "submitit" else {}
    report = sweep(config, executor=executor, workers=2, cache_dir=tmp_path / "cache", progress=False, **options)
    assert report.failed == [] and report.count("done") == len(sequential) == 3
    got = _entries(tmp_path / "cache")
    assert got.keys() == sequential.keys()
    for key, metrics in sequential.items():
        assert got[key] == pytest.approx(metrics, rel=1e-5)
    again = sweep(config, executor=executor, workers=2, cache_dir=tmp_path / "cache", progress=False, **options)
    assert again.count("cached") == 3 and again.count("done") == 0


@pytest.mark.slow
def test_an_interrupted_sweep_computes_only_the_missing_runs(tmp_path: Path) -> None:
    config = setting.CHAPTER.configure("quick", **TINY)
    plan = config.plan()
    for _, exp in plan[:2]:  # finished before the interruption
        exp.cached(cache_dir=str(tmp_path))
    killed = plan[2][1]  # a worker killed mid-write leaves only its temporary folder
    (tmp_path / "runs" / killed.name / f".tmp-{killed.key()}-deadbeef").mkdir(parents=True)
    report = sweep(config, executor="local", workers=2, cache_dir=tmp_path, progress=False)
    assert [o.status for o in report.outcomes] == ["cached", "cached", "done", "done", "done"]


@pytest.mark.slow
def test_a_failing_run_is_retried_and_reported_with_parameters_and_traceback(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("C2F_DATA_DIR", str(tmp_path / "no-data"))
    config = setting.CHAPTER.configure("paper", epochs=1, seeds=[0], device="cpu")  # MNIST is not there
    report = sweep(config, executor="local", workers=1, retries=1, cache_dir=tmp_path / "cache", progress=False)
    assert report.count("failed") == len(report.outcomes) == 3
    failed = report.failed[0]
    assert failed.attempts == 2 and failed.params["dataset"] == "mnist"
    assert "mnist" in failed.error and "Traceback" in failed.error


def _slow_run(cache: str, barrier) -> str:
    def fn(a: int) -> dict:
        time.sleep(0.05)
        return {"a": float(a)}

    barrier.wait(timeout=60)  # both processes ask for the same key at the same moment
    return str(runs.cached_run("race", fn, {"a": 1}, cache_dir=cache, declared={"fixed": 1}).path)


def test_concurrent_writers_of_one_key_leave_one_valid_entry(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(2)
        with context.Pool(2) as pool:
            paths = pool.starmap(_slow_run, [(str(tmp_path), barrier)] * 2)
    assert paths[0] == paths[1]
    entries = [p for p in (tmp_path / "runs" / "race").iterdir()]
    assert [p.name for p in entries] == [Path(paths[0]).name]  # no temporary folder left behind
    again = runs.cached_run("race", lambda a: {"a": -1.0}, {"a": 1}, cache_dir=tmp_path, declared={"fixed": 1})
    assert again.cached and again.metrics == {"a": 1.0}


def test_waves_put_required_runs_first() -> None:
    from c2f_utils.chapters import lls

    plan = lls.CHAPTER.configure("quick", seeds=[0]).plan()
    grouped = waves(plan)
    first = {f"{e.name}/{e.key()}" for _, e in grouped[0]}
    for _, exp in grouped[1]:
        assert {f"{d.name}/{d.key()}" for d in exp.requires()} <= first


def test_bad_arguments_are_named() -> None:
    config = setting.CHAPTER.configure("quick", **TINY)
    with pytest.raises(ValueError, match="executor"):
        sweep(config, executor="spark")
    with pytest.raises(ValueError, match="workers"):
        sweep(config, workers=0)
    with pytest.raises(TypeError, match="config"):
        sweep(setting.CHAPTER)


def test_threads_are_a_share_of_the_available_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from c2f_utils.sweep import available_cores, pin_threads, threads_per_process

    cores = available_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # no user limit (the test workers pin one)
    assert threads_per_process(1) == cores and threads_per_process(cores + 1) == 1
    assert threads_per_process(2) * 2 <= max(cores, 2)
    with pytest.raises(ValueError, match="processes"):
        threads_per_process(0)
    before = torch.get_num_threads()
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the variables pin_threads sets are undone after
    try:
        pin_threads(1)
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)


def test_xdist_workers_do_not_oversubscribe_the_cores() -> None:
    import torch

    from c2f_utils.sweep import available_cores

    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        pytest.skip("checks pytest-xdist workers; this run has none (CI runs the suite with -n 2)")
    assert torch.get_num_threads() * int(workers) <= max(available_cores(), int(workers))


def test_ctrl_c_stops_the_sweep_with_the_report_so_far(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    from concurrent.futures import Future

    from c2f_utils import sweep as sweep_module
    from c2f_utils.sweep import NullRun, SweepInterrupted

    finished: Future = Future()
    finished.set_result(("done", 1, 0.1, None))

    @contextlib.contextmanager
    def engine(workers: int, threads: int, **options):  # the first run finishes, the others never do
        yield lambda args: [finished if i == 0 else Future() for i in range(len(args))]

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(sweep_module._ENGINES, "local", engine)
    monkeypatch.setattr(sweep_module.time, "sleep", ctrl_c)
    runs_ = [NullRun(index=i, seconds=0.0) for i in range(3)]
    with pytest.raises(SweepInterrupted) as info:
        sweep(runs_, executor="local", cache_dir=tmp_path, progress=False)
    report = info.value.report
    assert [o.status for o in report.outcomes] == ["done", "pending", "pending"]
    assert "3 runs: 0 cached, 1 done, 0 failed, 2 pending" in info.value.summary()
    assert isinstance(info.value, KeyboardInterrupt)


def test_threads_per_process_keeps_a_lower_omp_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from c2f_utils.sweep import available_cores, threads_per_process

    monkeypatch.setattr("c2f_utils.sweep.available_cores", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads_per_process(2) == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads_per_process(1) == 1 and threads_per_process(2) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "16")  # a higher limit does not oversubscribe the share
    assert threads_per_process(2) == 4
    for junk in ("", "0", "two", "-3"):
        monkeypatch.setenv("OMP_NUM_THREADS", junk)
        assert threads_per_process(2) == 4
    assert available_cores() >= 1
