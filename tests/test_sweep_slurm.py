"""Sweeps against a live one-node SLURM cluster (tests/slurm_cluster.py): job arrays, reruns,
``scancel`` and ``scontrol requeue`` mid-run, and dask-jobqueue's ``SLURMCluster``.

The runs are the setting chapter's real profile under ``--smoke``, dispatched by the runner
(``python -m c2f_utils.run setting --profile real --smoke --executor submitit --submitit-cluster
slurm``) to ``slurmctld``; job states are read from the accounting database with ``sacct``.
The interrupted runs train 8 epochs (``-p epochs 8``), so that they checkpoint at epoch 5
and are stopped with work left.

These tests start daemons as root and take about two minutes, and run when
``C2F_SLURM_TESTS`` is set: ``1`` skips them with the reason where SLURM is not installed;
``required``, as CI sets it after installing SLURM, fails instead. ``apt-get install slurmctld
slurmd slurm-client slurmdbd munge mariadb-server`` installs what they need (Debian).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import slurm_cluster
import torch

from c2f_utils import runs

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

REPO = Path(__file__).resolve().parents[1]
MODE = os.environ.get("C2F_SLURM_TESTS", "")
SETTING = ["setting", "--profile", "real", "--smoke", "--no-notebook", "--workers", "2"]
INTERRUPTED = ["-p", "epochs", "8"]  # a checkpoint at epoch 5 (every 5 epochs), then three more epochs
TRAIN = "setting.train_and_probe"
ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "COMPLETING", "SUSPENDED", "CONFIGURING", "RESIZING"}


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slurm_cluster.LocalSlurm]:
    """A live one-node cluster for this module's tests, stopped (jobs cancelled) afterwards."""
    reason = slurm_cluster.missing()
    if MODE == "required" and reason:
        pytest.fail(f"C2F_SLURM_TESTS=required: {reason}")
    if not MODE:
        pytest.skip(reason or "set C2F_SLURM_TESTS=1 to run the sweeps against a live one-node SLURM (about 2 min)")
    if reason:
        pytest.skip(reason)
    cluster = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def env(slurm: slurm_cluster.LocalSlurm) -> dict[str, str]:
    """The runner's environment: this cluster, this checkout, the real data, one thread."""
    from conftest import SHARED_DATA

    if SHARED_DATA is None:
        pytest.skip("no real-data folder: set C2F_DATA_DIR or place the shared data beside the checkout")
    path = os.pathsep.join(
        dict.fromkeys(p for p in (str(REPO), *slurm.env.get("PYTHONPATH", "").split(os.pathsep)) if p)
    )
    return {**slurm.env, "C2F_DATA_DIR": str(SHARED_DATA), "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def _runner(*args: str) -> list[str]:
    return [sys.executable, "-m", "c2f_utils.run", *SETTING, *args]


def _run(env: dict[str, str], cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The runner, to its end (a sweep's exit status is 1 when runs failed)."""
    return subprocess.run(
        _runner(*args), env={**env, "C2F_CACHE_DIR": str(cache)}, capture_output=True, text=True, timeout=300
    )


def _submitit(cache: Path) -> list[str]:
    return ["--executor", "submitit", "--submitit-cluster", "slurm", "--submitit-folder", str(cache / "jobs")]


def _summary(stdout: str, stderr: str = "") -> str:
    """The runner's summary line without its timing: ``"3 runs: 0 cached, 3 done, 0 failed"``."""
    lines = [line for line in stdout.splitlines() if " runs: " in line]
    assert lines, f"no summary line:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return lines[-1].rsplit(" in ", 1)[0]


def _entries(cache: Path) -> dict[str, tuple[dict, pd.DataFrame]]:
    """Every finished run of a smoke cache: its metrics and its history without the timings."""
    out = {}
    for entry in sorted((cache / "smoke" / "runs").glob("*/*")):
        if not entry.name.startswith("."):
            result = runs.read_entry(entry, entry.parent.name)
            history = result.history.drop(columns="time_s") if result.history is not None else None
            out[f"{entry.parent.name}/{entry.name}"] = (result.metrics, history)
    return out


def _same(a: dict[str, tuple[dict, pd.DataFrame]], b: dict[str, tuple[dict, pd.DataFrame]]) -> None:
    assert sorted(a) == sorted(b)
    for name, (metrics, history) in a.items():
        assert metrics == b[name][0], name
        assert (history is None and b[name][1] is None) or history.equals(b[name][1]), name


def _new_jobs(slurm: slurm_cluster.LocalSlurm, before: dict[str, str]) -> dict[str, str]:
    """The jobs submitted since ``before`` (``sacct``), once they have ended: a sweep returns as
    soon as a job has written its result, a moment before the job itself ends."""

    def ended() -> tuple[dict[str, str]] | None:
        jobs = {job: state for job, state in slurm.sacct().items() if job not in before}
        return None if ACTIVE & set(jobs.values()) else (jobs,)

    return slurm_cluster.poll(ended, 60, "the new jobs to end")[0]


def test_the_real_profile_runs_as_one_job_array_and_a_rerun_submits_nothing(
    slurm: slurm_cluster.LocalSlurm, env: dict[str, str], tmp_path: Path
) -> None:
    """One wave of three runs: one array of three tasks, each COMPLETED in the accounting database."""
    before = slurm.sacct()
    out = _run(env, tmp_path, *_submitit(tmp_path))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert _summary(out.stdout, out.stderr) == "3 runs: 0 cached, 3 done, 0 failed"
    jobs = _new_jobs(slurm, before)
    array = next(iter(jobs)).split("_")[0]
    assert jobs == {f"{array}_{task}": "COMPLETED" for task in range(3)}, jobs  # one array of three tasks
    assert len(_entries(tmp_path)) == 3

    before = slurm.sacct()
    again = _run(env, tmp_path, *_submitit(tmp_path))
    assert again.returncode == 0 and _summary(again.stdout, again.stderr) == "3 runs: 3 cached, 0 done, 0 failed"
    assert _new_jobs(slurm, before) == {}


@pytest.fixture(scope="module")
def uninterrupted(
    slurm: slurm_cluster.LocalSlurm, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], Path]:
    """The 8-epoch plan through Dask, its workers two SLURM jobs started by dask-jobqueue: the
    runner's output, the jobs' states and the cache (the reference of the interrupted sweeps)."""
    jobqueue = pytest.importorskip("dask_jobqueue", reason="the [cluster] extra (dask-jobqueue) is not installed")
    cache = tmp_path_factory.mktemp("jobqueue")
    before = slurm.sacct()
    with pytest.MonkeyPatch.context() as mp:
        for var in ("SLURM_CONF", "C2F_DATA_DIR", "PYTHONPATH", "OMP_NUM_THREADS"):
            mp.setenv(var, env[var])
        mp.setenv("C2F_SMOKE", "1")  # the workers' fit stops each epoch after a few batches, as --smoke says
        cluster = jobqueue.SLURMCluster(
            cores=1,
            processes=1,
            memory="2GB",
            walltime="00:10:00",
            python=sys.executable,
            log_directory=str(cache / "jobs"),
            scheduler_options={"host": "127.0.0.1"},
        )
        try:
            cluster.scale(jobs=2)
            out = _run(env, cache, *INTERRUPTED, "--executor", "dask", "--scheduler", cluster.scheduler_address)
        finally:
            cluster.close()
    slurm_cluster.poll(lambda: not slurm.squeue(), 60, "the Dask workers' jobs to end")
    return out, _new_jobs(slurm, before), cache


def test_dask_jobqueue_runs_the_plan_on_slurm_workers(uninterrupted: tuple) -> None:
    """The runner's Dask executor on a scheduler whose workers are SLURM jobs."""
    out, jobs, cache = uninterrupted
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert _summary(out.stdout, out.stderr) == "3 runs: 0 cached, 3 done, 0 failed"
    assert len(jobs) == 2 and set(jobs.values()) <= {"CANCELLED", "COMPLETED"}, jobs  # stopped by cluster.close()
    assert len(_entries(cache)) == 3


def test_cancelled_and_requeued_jobs_resume_from_their_checkpoints(
    slurm: slurm_cluster.LocalSlurm, env: dict[str, str], uninterrupted: tuple, tmp_path: Path
) -> None:
    """Task 0 (coarse labels) is cancelled and task 1 (fine labels) requeued once each has
    checkpointed epoch 5 of 8; the resubmitted sweep computes only the cancelled run. Both
    runs end as in the uninterrupted sweep, and their epochs 1-5 are those of the checkpoint
    (timings included: resumed, not trained again)."""
    plan = subprocess.run([*_runner(*INTERRUPTED), "--plan"], env=env, capture_output=True, text=True, check=True)
    keys = [json.loads(line)["key"] for line in plan.stdout.splitlines()]
    runs_dir = tmp_path / "smoke" / "runs" / TRAIN
    before = slurm.sacct()
    proc = subprocess.Popen(
        _runner(*INTERRUPTED, *_submitit(tmp_path)),
        env={**env, "C2F_CACHE_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        array = slurm_cluster.poll(lambda: next(iter(slurm.squeue()), "").split("_")[0], 60, "the job array")
        # Each job is suspended (SIGSTOP at once) before it is cancelled or requeued: SLURM then kills it
        # at once, where a running job would get SIGTERM, which submitit ignores, and SIGKILL >= 5 s
        # later, time enough to finish the run. A suspended job that is requeued is held until released,
        # and a requeued job waits about two minutes before it is eligible again (its start time, reset below).
        actions = {
            0: [("scancel", f"{array}_0")],
            1: [("scontrol", "requeue", f"{array}_1"), ("scontrol", "release", f"{array}_1")],
        }
        saved: dict[int, list[float]] = {}

        def act() -> bool:
            for task, commands in actions.items():
                checkpoint = runs_dir / f".ckpt-{keys[task]}" / "fit-0.pt"
                if task not in saved and checkpoint.is_file():
                    slurm.cli("scontrol", "suspend", f"{array}_{task}")
                    assert not (runs_dir / keys[task]).exists(), f"task {task} finished before it was suspended"
                    state = torch.load(checkpoint, weights_only=False)
                    assert state["epoch"] == 5, state["epoch"]
                    for command in commands:
                        slurm.cli(*command)
                    saved[task] = [row["time_s"] for row in state["history"] if row["epoch"] >= 1]
            return len(saved) == len(actions)

        slurm_cluster.poll(act, 120, "both runs to checkpoint epoch 5", interval=0.05)
        slurm_cluster.poll(lambda: slurm.squeue().get(f"{array}_1") == "PENDING", 60, "the requeued job to wait")
        slurm.cli("scontrol", "update", f"JobId={array}_1", "StartTime=now")
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        proc.kill()
    assert proc.returncode == 1, stdout[-3000:] + stderr[-3000:]  # the cancelled run failed
    assert _summary(stdout, stderr) == "3 runs: 0 cached, 2 done, 1 failed"
    assert not (runs_dir / keys[0]).exists()
    assert set(_new_jobs(slurm, before)) == {f"{array}_{task}" for task in range(3)}
    states = slurm.sacct(f"{array}", duplicates=True)
    assert states == {f"{array}_0": "CANCELLED", f"{array}_1": "REQUEUED,COMPLETED", f"{array}_2": "COMPLETED"}

    before = slurm.sacct()
    resubmitted = _run(env, tmp_path, *INTERRUPTED, *_submitit(tmp_path))
    assert (
        resubmitted.returncode == 0
        and _summary(resubmitted.stdout, resubmitted.stderr) == "3 runs: 2 cached, 1 done, 0 failed"
    )
    assert list(_new_jobs(slurm, before).values()) == ["COMPLETED"]
    assert not list(runs_dir.glob(".ckpt-*"))  # removed once the results were stored
    _same(_entries(tmp_path), _entries(uninterrupted[2]))
    for task, times in saved.items():  # epochs 1-5 were read from the checkpoint, not trained again
        history = runs.read_entry(runs_dir / keys[task], TRAIN).history
        assert history.loc[history.epoch.between(1, 5), "time_s"].tolist() == pytest.approx(times, rel=1e-9)
