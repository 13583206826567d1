"""Run one chapter with papermill: ``python -m c2f_utils.run CHAPTER [-p NAME VALUE ...]``.

The chapter's MyST Markdown source is converted to a notebook with jupytext and
executed with papermill, its ``parameters`` cell overridden by the given values. The
executed notebook and a results JSON (the chapter's reported results, its parameters
and provenance) are written to ``--out``. Every value is validated against the
chapter's :class:`~c2f_utils.experiments.Chapter` (names, types, bounds, choices, the
profiles it implements) before a kernel starts.

Examples
--------
::

    python -m c2f_utils.run --list setting                 # parameters, bounds, both profiles' values
    python -m c2f_utils.run setting --plan -p seeds 0,1    # the runs, their keys, cached or not
    python -m c2f_utils.run setting
    python -m c2f_utils.run setting --profile paper -p seeds 0,1,2 -p device cuda
    python -m c2f_utils.run setting -p epochs 5 --out /tmp/setting-run
    python -m c2f_utils.run fierce -f my-params.yaml              # parameters from a file (YAML or JSON)
    python -m c2f_utils.run fierce --only age -p age.dataset image_folder -p age.folder DIR -p age.targets ages.csv
    python -m c2f_utils.run setting --executor local --workers 2   # runs in parallel, then the notebook
    python -m c2f_utils.run fierce --profile paper --check-data     # every dataset there? (seconds)
    python -m c2f_utils.run fierce --profile paper --smoke          # the paper code path, one epoch, few batches
    python -m c2f_utils.run fierce --profile real --executor local --workers 1 --record   # committed evidence
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__, chapters

# the notebook's execution (re-exported: the runner's API as before)
from .execute import (
    KERNEL_NAME,
    RUN_EXTRA,
    MissingExtraError,
    check_data,
    configure,
    notebook_tools,
    output_folder,
    overrides_tag,
    run_chapter,
)
from .experiments import PROFILES, Config
from .progress import PROGRESS_ENV

__all__ = [
    "KERNEL_NAME",
    "RUN_EXTRA",
    "MissingExtraError",
    "check_data",
    "configure",
    "main",
    "overrides_tag",
    "read_parameters",
    "run_chapter",
]


def _at_least(low: int) -> Any:
    """An argparse type: an integer >= ``low`` (``--workers 0`` is an error, not the default)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    return parse


def _parser(prog: str = "python -m c2f_utils.run") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Execute a chapter of the book with papermill.")
    parser.add_argument("--version", action="version", version=f"%(prog)s (c2f_utils {__version__})")
    parser.add_argument("chapter", nargs="?", help="chapter name, e.g. 'setting'")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a parameter (repeatable); lists as 0,1,2",
    )
    parser.add_argument("--profile", default="quick", help=f"one of {list(PROFILES)} that the chapter implements")
    parser.add_argument(
        "-f",
        "--params-file",
        help="YAML or JSON file of parameters (name: value), applied before any -p",
    )
    parser.add_argument(
        "--out", help="output folder (default c2f_runs/CHAPTER-PROFILE, plus a tag naming the overrides if any)"
    )
    parser.add_argument("--book-dir", help="folder holding the chapter sources (default: ./book)")
    parser.add_argument(
        "--kernel", help="Jupyter kernel name (default: this interpreter, whatever kernels are installed)"
    )
    parser.add_argument("--list", action="store_true", help="list the chapters (or CHAPTER's parameters), then exit")
    parser.add_argument(
        "--plan", action="store_true", help="print every run the chapter would execute (JSON lines), then exit"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="only this grid or experiment of the chapter (repeatable; see --list): its runs are computed "
        "and their metrics printed, without the notebook (which needs every grid)",
    )
    parser.add_argument("--log-output", action="store_true", help="stream the notebook's output")
    parser.add_argument(
        "--check-data",
        action="store_true",
        help="locate and read every dataset the profile needs, report all that is missing, then exit",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="one seed, one epoch, a few batches per epoch (separate cache folder)"
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="after computing the runs, copy them to results/CHAPTER/PROFILE (committed evidence; real/paper)",
    )
    sweep = parser.add_argument_group("sweep (compute the planned runs in parallel, then execute the notebook)")
    sweep.add_argument("--executor", choices=("local", "dask", "submitit"), help="engine that computes the runs")
    sweep.add_argument(
        "--workers",
        type=_at_least(1),
        help="parallel workers (default 2; 1 for a real or paper profile run without --executor)",
    )
    sweep.add_argument("--retries", type=_at_least(0), default=0, help="extra attempts for a failed run (default 0)")
    sweep.add_argument("--scheduler", help="dask: scheduler address (default: a LocalCluster)")
    sweep.add_argument("--submitit-folder", help="submitit: folder for job logs (default c2f_runs/submitit)")
    sweep.add_argument("--submitit-cluster", help="submitit: 'slurm', 'local' or 'debug' (default: detected)")
    sweep.add_argument("--slurm-partition", help="submitit: SLURM partition")
    sweep.add_argument("--gpus", type=int, default=0, help="submitit: GPUs per job (default 0)")
    sweep.add_argument("--timeout-min", type=int, default=60, help="submitit: time limit per job in minutes")
    sweep.add_argument("--no-notebook", action="store_true", help="compute the runs only; do not run the notebook")
    return parser


def _sweep(args: argparse.Namespace, config: Config) -> int:
    """Dispatch the plan's uncached runs; print a summary and every failure. Returns the exit status."""
    from .sweep import sweep

    options = {"scheduler": args.scheduler} if args.executor == "dask" else {}
    if args.executor == "submitit":
        options = {
            "folder": args.submitit_folder,
            "cluster": args.submitit_cluster,
            "partition": args.slurm_partition,
            "gpus": args.gpus,
            "timeout_min": args.timeout_min,
        }
    report = sweep(config, executor=args.executor, workers=args.workers, retries=args.retries, **options)
    print(report.summary())
    for outcome in report.failed:
        print(f"failed: {outcome.experiment} {json.dumps(outcome.params, sort_keys=True)}\n{outcome.error}")
    return 1 if report.failed else 0


def read_parameters(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A parameters file: a YAML (``.yaml``/``.yml``) or JSON mapping of parameter names to values,
    e.g. ``{"profile": "real", "seeds": [0, 1, 2], "epochs": 5}``. The values are validated by the
    chapter like ``-p`` values; a missing file or anything but a mapping with string keys raises
    a ValueError naming ``path``."""
    import yaml

    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"Expected `path` to be a file path, got {path!r}")
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ValueError(f"Expected `path` to be a readable parameters file, got {str(file)!r} ({exc})") from None
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"Expected `path` to hold YAML or JSON, got {str(file)!r} ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ValueError(f"Expected `path` to hold a mapping of parameter names to values, got {str(file)!r}")
    return data


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m c2f_utils.run") -> int:
    """Command-line entry point; returns the exit status. ``prog``: the command's name in its
    help and errors (``c2f run`` through :mod:`c2f_utils.cli`)."""
    if not isinstance(prog, str) or not prog:
        raise ValueError(f"Expected `prog` to be a non-empty command name, got {prog!r}")
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.list:
        names = [args.chapter] if args.chapter else sorted(chapters.load_all())
        try:
            for name in names:
                print("\n".join(chapters.get(name).describe()))
        except KeyError as exc:
            parser.error(str(exc.args[0]))
        return 0
    if not args.chapter:
        parser.error("a chapter name is required (see --list)")
    try:
        chapter = chapters.get(args.chapter)
        values: dict[str, Any] = read_parameters(args.params_file) if args.params_file else {}
        if "profile" in values:
            args.profile = values.pop("profile")
        values = {k: chapter.parameters[k].check(v) for k, v in chapter.canonical(values).items()}
        for pname, text in args.parameter:
            if pname == "profile":
                args.profile = text
                continue
            (pname,) = chapter.canonical({pname: None})  # a former name: renamed, with a warning
            values[pname] = chapter.parameters[pname].parse(text)
        if args.smoke:
            values = {**chapter.smoke_values(chapter.check_profile(args.profile)), **values}
            from .train import SMOKE_ENV

            os.environ[SMOKE_ENV] = "1"  # fit's batch cap and the smoke cache folder, in every worker
        config = configure(args.chapter, args.profile, values)
        if args.only:
            config = config.only(args.only)
        if args.record and (args.smoke or values or args.profile == "quick" or args.only):
            raise ValueError(
                "--record takes a real or paper profile as declared: no -p overrides, no --smoke, no --only"
            )
    except (KeyError, TypeError, ValueError) as exc:
        parser.error(str(exc.args[0] if isinstance(exc, KeyError) else exc))
    if args.plan:
        records = config.plan_records()
        for record in records:
            print(json.dumps(record, sort_keys=True))
        cached = sum(r["cached"] for r in records)
        # On stderr: stdout stays one JSON record per line for tools.
        print(f"{len(records)} runs: {cached} cached, {len(records) - cached} to compute", file=sys.stderr)
        return 0
    if args.only:  # part of a chapter: its runs, not the notebook
        args.executor, args.no_notebook = args.executor or "local", True
    if not (args.check_data or (args.executor and args.no_notebook)):
        try:  # a wrong --out ends the command before the runs, not after them
            output_folder(args.out, args.chapter, args.profile, values)
        except (TypeError, ValueError) as exc:
            parser.error(f"--out: {exc}")
    if not (args.check_data or args.only or args.no_notebook):
        try:  # before any run is computed: the notebook comes last
            notebook_tools(args.kernel is None)
        except MissingExtraError as exc:
            print(f"{parser.prog}: error: {exc}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    problems = check_data(config)
    if problems:
        print(f"{args.chapter}, {args.profile} profile: {len(problems)} missing or unreadable data file(s):")
        print("\n".join(f"- {p}" for p in problems))
        return 2
    if args.check_data:
        print(f"{args.chapter}, {args.profile} profile: every dataset found ({time.perf_counter() - started:.1f} s)")
        return 0
    if not sys.stderr.isatty():  # a batch job's log: the runs and epochs as a line every 30 s
        os.environ.setdefault(PROGRESS_ENV, "log")
    if not args.executor and (args.record or args.profile != "quick"):
        # Long profiles compute their runs here first, one at a time, with progress on this terminal
        # (a notebook executed by papermill would show it only in the notebook), then the notebook.
        args.executor, args.workers = "local", 1 if args.workers is None else args.workers
    args.workers = 2 if args.workers is None else args.workers
    if args.executor:
        from .sweep import SweepInterrupted

        try:
            status = _sweep(args, config)
        except ValueError as exc:  # options sweep() refuses name the argument
            parser.error(str(exc))
        except SweepInterrupted as exc:
            print(exc.summary(), file=sys.stderr)
            return 130
        if status:
            return status
        if args.record:
            from .evidence import record

            print(f"recorded: {record(config)}")
        if args.only:
            for gid, exp in config.plan():
                entry = {"grid": gid, "experiment": exp.name, "key": exp.key(), "params": exp.params()}
                print(json.dumps({**entry, "metrics": exp.cached().metrics}, sort_keys=True, default=str))
        if args.no_notebook:
            return status
    try:
        path = run_chapter(
            args.chapter,
            values,
            profile=args.profile,
            out=args.out,
            book_dir=args.book_dir,
            kernel_name=args.kernel,
            log_output=args.log_output,
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: the {args.chapter} notebook did not finish and wrote no results; "
            "finished runs are cached, the same command resumes",
            file=sys.stderr,
        )
        return 130
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
