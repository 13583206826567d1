"""Sweeps: a chapter's planned runs dispatched to local processes, Dask or SLURM.

:func:`sweep` takes a configured chapter (:class:`~c2f_utils.experiments.Config`),
plans its runs (:meth:`~c2f_utils.experiments.Config.plan`), skips those already in the
cache, and hands the others to an executor built on an existing engine:

- ``"local"``: a :class:`concurrent.futures.ProcessPoolExecutor` on this machine;
  every worker gets its share of the cores (``OMP_NUM_THREADS``, MKL/OpenBLAS threads
  and ``torch.set_num_threads``) and, on a multi-GPU machine, one GPU
  (``CUDA_VISIBLE_DEVICES``, round robin);
- ``"dask"``: :mod:`distributed`, on a ``LocalCluster`` or on any scheduler address (a
  SLURM cluster through ``dask-jobqueue``, Kubernetes through ``dask-kubernetes``);
- ``"submitit"``: one SLURM job array per wave of runs (:mod:`submitit`; its local
  executor runs the same code on this machine).

Runs that read other runs (a student and its teacher) go in waves: a run is dispatched
once the runs it requires are finished. Every worker writes into the same cache
(:func:`~c2f_utils.runs.cached_run`: atomic, first writer of a key wins), so a
sweep that is interrupted and started again computes only what is missing. A failed
run is retried ``retries`` times and then reported with its parameters and traceback.

The engines are an optional extra (``pip install c2f-utils[cluster]``): only the
executor that is used is imported.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._checks import check_positive_int
from .experiments import Config, Experiment, param
from .paths import cache_dir as resolve_cache_dir
from .progress import progress_bar

__all__ = [
    "EXECUTORS",
    "NullRun",
    "Outcome",
    "SweepInterrupted",
    "SweepReport",
    "available_cores",
    "pin_threads",
    "run_one",
    "sweep",
    "threads_per_process",
    "waves",
]

EXECUTORS = ("local", "dask", "submitit")
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass
class Outcome:
    """What became of one planned run."""

    grid: str
    experiment: str
    key: str
    params: dict[str, Any]
    status: str
    """``"cached"`` (found before the sweep), ``"done"`` (computed now), ``"failed"``, or
    ``"pending"`` (not finished when the sweep was interrupted)."""
    attempts: int = 0
    wall_s: float = 0.0
    error: str | None = None
    """The last attempt's traceback, for a failed run."""


@dataclass
class SweepReport:
    """The outcome of every planned run, in plan order, and the sweep's wall time."""

    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0

    def count(self, status: str) -> int:
        """Number of runs with ``status``."""
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        """The runs that failed after every retry."""
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> str:
        """``"12 runs: 4 cached, 7 done, 1 failed in 35.2 s"`` (and ``", 3 pending"`` after an interruption)."""
        statuses = ("cached", "done", "failed", *(("pending",) if self.count("pending") else ()))
        parts = ", ".join(f"{self.count(s)} {s}" for s in statuses)
        return f"{len(self.outcomes)} runs: {parts} in {self.wall_s:.1f} s"


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (SIGINT); ``report`` holds what finished (cached in the run cache,
    so the same sweep started again computes only the runs still ``"pending"``)."""

    def __init__(self, report: SweepReport) -> None:
        super().__init__(report.summary())
        self.report = report

    def summary(self) -> str:
        """One line: what finished, and what the same command resumes."""
        pending = self.report.count("pending")
        return f"interrupted: {self.report.summary()}; the same command again resumes the {pending} pending run(s)"


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity: a SLURM or container allotment),
    not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def threads_per_process(processes: int) -> int:
    """Threads for each of ``processes`` PyTorch processes sharing :func:`available_cores`: two
    processes with default threads on two cores slow each other down about tenfold. A limit
    the user set in ``OMP_NUM_THREADS`` (a positive integer) is kept when it is lower: the
    machine may be shared with other jobs the sweep does not see."""
    check_positive_int("processes", processes)
    share = max(1, available_cores() // processes)
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    return min(share, int(limit)) if limit.isdigit() and int(limit) >= 1 else share


def pin_threads(threads: int) -> None:
    """Set this process's PyTorch and BLAS threads (and those of the processes it starts)."""
    check_positive_int("threads", threads)
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def run_one(exp: Experiment, cache_dir: str | None, retries: int, threads: int) -> tuple[str, int, float, str | None]:
    """Compute (or read back) one run in a worker: ``(status, attempts, wall_s, traceback)``.

    Every executor calls this function; it pins the worker's threads first, so a worker
    never oversubscribes the cores it was given.
    """
    pin_threads(threads)
    error = None
    start = time.perf_counter()
    for attempt in range(1, retries + 2):
        try:
            exp.cached(cache_dir=cache_dir)
            return "done", attempt, time.perf_counter() - start, None
        except Exception:  # noqa: BLE001 - a failed run is reported with its traceback, never raised in a worker
            error = traceback.format_exc()
    return "failed", retries + 1, time.perf_counter() - start, error


def waves(runs: Sequence[tuple[str, Experiment]]) -> list[list[tuple[str, Experiment]]]:
    """Split planned runs into waves: a run comes one wave after the latest run it requires."""
    level: dict[str, int] = {}

    def depth(exp: Experiment) -> int:
        key = f"{exp.name}/{exp.key()}"
        if key not in level:
            level[key] = 1 + max((depth(d) for d in exp.requires()), default=-1)
        return level[key]

    out: list[list[tuple[str, Experiment]]] = []
    for gid, exp in runs:
        d = depth(exp)
        while len(out) <= d:
            out.append([])
        out[d].append((gid, exp))
    return [w for w in out if w]


def _init_local_worker(threads: int, counter: Any, n_gpus: int) -> None:
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if n_gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % n_gpus)
    pin_threads(threads)


@contextmanager
def _local(workers: int, threads: int, **_: Any) -> Iterator[Callable[..., list[Any]]]:
    """Process pool: one submit per run (spawned workers, so no torch state is forked)."""
    import torch

    context = multiprocessing.get_context("spawn")
    counter = context.Value("i", 0)
    n_gpus = torch.cuda.device_count()
    init = (threads, counter, n_gpus)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_local_worker, initargs=init) as pool:
        yield lambda args: [pool.submit(run_one, *a) for a in args]


@contextmanager
def _dask(workers: int, threads: int, scheduler: str | None = None, **_: Any) -> Iterator[Callable[..., list[Any]]]:
    """``dask.distributed``: a ``LocalCluster`` of single-threaded worker processes, or ``scheduler``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError("The dask executor needs `pip install c2f-utils[cluster]` (dask.distributed)") from exc
    cluster = None
    if scheduler is None:
        env = {var: str(threads) for var in _THREAD_VARS}
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, env=env)
    client = Client(scheduler or cluster)
    try:
        yield lambda args: [client.submit(run_one, *a, pure=False) for a in args]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def _submitit(
    workers: int,
    threads: int,
    folder: str | None = None,
    cluster: str | None = None,
    partition: str | None = None,
    gpus: int = 0,
    timeout_min: int = 60,
    **_: Any,
) -> Iterator[Callable[..., list[Any]]]:
    """submitit: one job array per wave (SLURM; ``cluster="local"`` runs it on this machine)."""
    try:
        import submitit
    except ImportError as exc:
        raise ImportError("The submitit executor needs `pip install c2f-utils[cluster]` (submitit)") from exc
    executor = submitit.AutoExecutor(folder=folder or "c2f_runs/submitit", cluster=cluster)
    options: dict[str, Any] = {"timeout_min": timeout_min, "cpus_per_task": threads}
    if executor.cluster == "slurm":
        options |= {"slurm_array_parallelism": workers, "gpus_per_node": gpus}
        if partition:
            options["slurm_partition"] = partition
    else:
        options["gpus_per_node"] = gpus
    executor.update_parameters(**options)
    if executor.cluster == "slurm":
        yield lambda args: executor.map_array(run_one, *zip(*args, strict=True))
        return

    def in_batches(args: list[tuple[Any, ...]]) -> list[Any]:
        # The local and debug executors start every task of an array at once (SLURM's array
        # parallelism does not apply): run them `workers` at a time.
        jobs = []
        for i in range(0, len(args), workers):
            batch = executor.map_array(run_one, *zip(*args[i : i + workers], strict=True))
            for job in batch:
                with contextlib.suppress(Exception):  # the sweep loop reads the outcome, errors included
                    job.result()
            jobs += batch
        return jobs

    yield in_batches


_ENGINES = {"local": _local, "dask": _dask, "submitit": _submitit}


@dataclass(frozen=True)
class NullRun(Experiment):
    """A run that computes nothing but sleeps ``seconds``: an executor's own cost per run (benchmarks)."""

    name: ClassVar[str] = "sweep.null"
    index: int = param("run index (distinct runs, distinct keys)", ge=0)
    seconds: float = param("time the run sleeps", ge=0)

    def run(self) -> dict[str, float]:
        time.sleep(self.seconds)
        return {"index": float(self.index)}


def sweep(
    config: Config | Sequence[Experiment],
    *,
    executor: str = "local",
    workers: int = 2,
    retries: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    poll_s: float = 0.2,
    **options: Any,
) -> SweepReport:
    """Compute every planned run of ``config`` that is not cached, on ``executor``.

    Parameters
    ----------
    config : Config or sequence of Experiment
        A configured chapter (``chapters.get(name).configure(profile, **parameters)``),
        or the runs themselves.
    executor : {"local", "dask", "submitit"}
        The engine (module docstring).
    workers : int
        Parallel workers (local processes, Dask workers, or SLURM array parallelism).
        Each gets :func:`threads_per_process` threads (its share of the available cores).
    retries : int
        Extra attempts for a failed run before it is reported.
    cache_dir : path, optional
        The shared cache (default ``$C2F_CACHE_DIR``); on a cluster, a shared filesystem.
    progress : bool, optional
        Show a progress bar over runs (done, running, failed, elapsed, remaining); by
        default where :func:`c2f_utils.progress.progress_mode` says.
    **options
        Engine options: ``scheduler`` (Dask address), ``folder``, ``cluster``,
        ``partition``, ``gpus``, ``timeout_min`` (submitit).

    Raises
    ------
    SweepInterrupted
        On Ctrl-C, with the report so far (a :class:`KeyboardInterrupt`).
    """
    if executor not in _ENGINES:
        raise ValueError(f"Expected `executor` to be one of {list(EXECUTORS)}, got {executor!r}")
    for name, value, low in (("workers", workers, 1), ("retries", retries, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"Expected `{name}` to be an integer >= {low}, got {value!r}")
    if isinstance(config, Config):
        plan, label = config.plan(), config.chapter.name
    elif isinstance(config, Sequence) and config and all(isinstance(e, Experiment) for e in config):
        plan, label = [("runs", e) for e in config], "runs"
    else:
        raise TypeError(f"Expected `config` to be a configured chapter (Config) or experiments, got {config!r}")
    cache = str(resolve_cache_dir(cache_dir).resolve())  # absolute: workers may run elsewhere
    threads = threads_per_process(workers)
    start = time.perf_counter()
    outcomes: dict[str, Outcome] = {}
    todo = []
    for gid, exp in plan:
        key = exp.key()
        cached = exp.is_cached(cache)
        outcomes[f"{exp.name}/{key}"] = Outcome(gid, exp.name, key, exp.params(), "cached" if cached else "pending")
        if not cached:
            todo.append((gid, exp))
    if not todo:  # nothing to compute: no engine is started
        return SweepReport(list(outcomes.values()), time.perf_counter() - start)
    try:
        _dispatch(todo, outcomes, label, executor, workers, threads, cache, retries, progress, poll_s, options)
    except KeyboardInterrupt:
        raise SweepInterrupted(SweepReport(list(outcomes.values()), time.perf_counter() - start)) from None
    return SweepReport(list(outcomes.values()), time.perf_counter() - start)


def _dispatch(
    todo: list[tuple[str, Experiment]],
    outcomes: dict[str, Outcome],
    label: str,
    executor: str,
    workers: int,
    threads: int,
    cache: str,
    retries: int,
    progress: bool | None,
    poll_s: float,
    options: dict[str, Any],
) -> None:
    """Run ``todo`` in waves on ``executor``, recording each run's end in ``outcomes``."""
    bar = progress_bar(total=len(todo), desc=f"{label} sweep", unit="run", enabled=progress, leave=True)
    with bar, _ENGINES[executor](workers, threads, **options) as submit:
        for wave in waves(todo):
            futures = submit([(exp, cache, retries, threads) for _, exp in wave])
            pending = dict(zip(futures, wave, strict=True))
            while pending:
                finished = [f for f in pending if f.done()]
                for fut in finished:
                    _, exp = pending.pop(fut)
                    outcome = outcomes[f"{exp.name}/{exp.key()}"]
                    try:
                        status, attempts, wall, error = fut.result()
                    except Exception:  # noqa: BLE001 - a worker that died: report, do not stop the sweep
                        status, attempts, wall, error = "failed", 1, 0.0, traceback.format_exc()
                    outcome.status, outcome.attempts, outcome.wall_s, outcome.error = status, attempts, wall, error
                    bar.update(1)
                failed = sum(o.status == "failed" for o in outcomes.values())
                bar.set_postfix(pending=len(pending), failed=failed, refresh=False)
                if pending:
                    time.sleep(poll_s)
