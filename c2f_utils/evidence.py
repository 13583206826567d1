"""Committed evidence: a profile's finished runs kept in the repository, and read back in the book.

The ``quick`` profile is executed live when the book is built. The ``real`` and ``paper``
profiles take from minutes to days, so their finished runs are *recorded*
(``python -m c2f_utils.run CHAPTER --profile real --executor local --record``): every run the
profile plans is copied from the cache, unchanged, to
``results/<chapter>/<profile>/runs/<experiment>/<key>/`` (its ``record.json`` with metrics,
parameters, cache key and provenance: commit, package versions, device, wall time; its
history and arrays with their SHA-256), with a ``manifest.json`` listing the plan.

Reading them back (:func:`committed`) gives a :class:`~c2f_utils.experiments.Config` whose
``results(grid)`` reads these files only, never computes. Each planned run is

- ``current``: an entry with the run's current key exists (same parameters, same declared
  versions of the experiment, its components and the numerical libraries:
  :mod:`c2f_utils.identity`);
- ``stale``: the manifest holds a run with the same parameters but another key: a version
  the run declares was bumped since it was recorded (what it computes changed). Its numbers
  are still shown, labelled stale with the commit they come from, never as current;
- ``missing``: nothing recorded (a profile never run, or a parameter changed since).

A run recorded on another platform (device, CPU model, threads, CUDA: what moves the last
bits of a number) is shown as such (:func:`platform_note`).

:func:`scorecards` puts the live scorecard and the committed ones side by side, each row
labelled with its profile and evidence status.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import report
from .identity import platform_differences, platform_facts, source_fingerprint
from .runs import RunResult, entry_path, provenance, read_entry

if TYPE_CHECKING:
    from .experiments import Chapter, Config, Experiment

__all__ = [
    "EvidenceError",
    "RunStatus",
    "benchmark_records",
    "benchmarks_dir",
    "code_note",
    "committed",
    "describe",
    "manifest",
    "platform_note",
    "profile_dir",
    "read_committed",
    "read_grid",
    "record",
    "results_dir",
    "scorecards",
    "show",
    "status",
]

RESULTS_DIR_ENV = "C2F_RESULTS_DIR"
"""Environment variable overriding the folder of committed results (default: ``results/``
beside the package, i.e. in the repository)."""
MANIFEST = "manifest.json"
MAX_FILE_BYTES = 1_000_000
"""A run's file larger than this (a network's weights) is not copied into ``results/``; the
manifest lists it under ``left_out`` and the committed copy is read without it."""
BENCHMARKS_DIR_ENV = "C2F_BENCHMARKS_DIR"
"""Environment variable overriding the folder of recorded benchmarks (default:
``benchmarks/results/`` beside the package, i.e. in the repository)."""
COMMITTED_PROFILES = ("real", "paper")
"""Profiles whose runs are recorded and committed (``quick`` is executed live)."""


class EvidenceError(LookupError):
    """A committed run that should be read is not there (the profile was never recorded)."""


def results_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder of committed results: ``override``, else ``$C2F_RESULTS_DIR``, else ``<repo>/results``."""
    return _folder(override, RESULTS_DIR_ENV, "results")


def _folder(override: str | os.PathLike[str] | None, env_name: str, *default: str) -> Path:
    """``override``, else the folder named by ``$env_name``, else ``<repo>/<default...>``."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(env_name)
    return Path(env).expanduser() if env else Path(__file__).resolve().parent.parent.joinpath(*default)


def benchmarks_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder of recorded benchmarks: ``override``, else ``$C2F_BENCHMARKS_DIR``, else
    ``<repo>/benchmarks/results``."""
    return _folder(override, BENCHMARKS_DIR_ENV, "benchmarks", "results")


def benchmark_records(name: str, root: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every recorded device's result of benchmark ``name``, keyed by device type.

    The scripts of ``benchmarks/`` write ``<name>_<device>.json`` (``criteria_step_cpu.json``,
    ``criteria_step_cuda.json``), each with its machine and provenance; a chapter that quotes
    a benchmark reads them here rather than timing on whatever machine builds the book.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Expected `name` to be a benchmark's name such as 'criteria_step', got {name!r}")
    folder = benchmarks_dir(root)
    records = {}
    for path in sorted(folder.glob(f"{name}_*.json")):
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise EvidenceError(f"Benchmark record {path} is not valid JSON: {exc}") from exc
        if not isinstance(record, dict) or record.get("benchmark") != name:
            raise EvidenceError(f"Expected {path} to hold a record of benchmark {name!r}, got {str(record)[:80]}")
        records[path.stem[len(name) + 1 :]] = record
    if not records:
        raise EvidenceError(
            f"No record of benchmark {name!r} in {folder} (expected {name}_<device>.json): run "
            f"`python benchmarks/{name}.py` there, or point ${BENCHMARKS_DIR_ENV} at the records"
        )
    return records


def profile_dir(chapter: str, profile: str, root: str | os.PathLike[str] | None = None) -> Path:
    """``results/<chapter>/<profile>``."""
    if profile not in COMMITTED_PROFILES:
        raise ValueError(f"Expected `profile` among {list(COMMITTED_PROFILES)} (committed profiles), got {profile!r}")
    return results_dir(root) / chapter / profile


def manifest(chapter: str, profile: str, root: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The recorded manifest of a chapter's profile, or ``None`` if it was never recorded."""
    path = profile_dir(chapter, profile, root) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def _params_id(name: str, params: Mapping[str, Any]) -> str:
    return json.dumps([name, params], sort_keys=True)


# --------------------------------------------------------------------------- recording


def record(
    config: Config,
    *,
    root: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Copy every run ``config`` plans from the cache to ``results/<chapter>/<profile>/``.

    Only a profile's own values are recorded (no overrides: the book reads the profile as
    declared), and only when every planned run is in the cache; the folder is replaced as a
    whole. Returns the folder.
    """
    chapter, profile = config.chapter, config.profile
    target = profile_dir(chapter.name, profile, root)
    declared = chapter.configure(profile)
    if dict(config.values) != dict(declared.values):
        changed = sorted(k for k in config.values if config.values[k] != declared.values.get(k))
        raise ValueError(
            f"Expected the {profile!r} profile as declared, got overrides of {changed}: committed results "
            "must be the profile the book shows (change the profile's declaration instead)"
        )
    plan = config.plan()
    missing = [f"{exp.name} {exp.key()}" for _, exp in plan if not exp.is_cached(cache_dir)]
    if missing:
        raise EvidenceError(
            f"{len(missing)} of {len(plan)} planned runs of {chapter.name}/{profile} are not in the cache "
            f"(run the profile first): {missing[:5]}{' ...' if len(missing) > 5 else ''}"
        )
    tmp = target.parent / f".tmp-{profile}-{uuid.uuid4().hex[:8]}"
    runs = []
    try:
        for gid, exp in plan:
            key = exp.key()
            source = entry_path(exp.name, key, cache_dir)
            result = read_entry(source, exp.name)  # checksums verified before anything is copied
            big = sorted(
                f.name for f in source.iterdir() if f.name != "record.json" and f.stat().st_size > MAX_FILE_BYTES
            )
            shutil.copytree(source, tmp / "runs" / exp.name / key, ignore=shutil.ignore_patterns(*big))
            prov = result.provenance
            runs.append(
                {
                    "grid": gid,
                    "experiment": exp.name,
                    "key": key,
                    "params": result.params,
                    "commit": prov.get("git_commit"),
                    "device": prov.get("device"),
                    "finished_at": prov.get("finished_at"),
                    "wall_time_s": prov.get("wall_time_s"),
                    "left_out": big,
                }
            )
        walls = [r["wall_time_s"] for r in runs if r["wall_time_s"] is not None]
        content = {
            "chapter": chapter.name,
            "profile": profile,
            "values": config.declared_values(),
            "runs": runs,
            "total_run_time_s": round(sum(walls), 1),
            "recorded_by": provenance(),
        }
        (tmp / MANIFEST).write_text(json.dumps(content, indent=1, sort_keys=True))
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class RunStatus:
    """Where one planned run of a committed profile stands."""

    grid: str
    experiment: str
    key: str
    state: str
    """``"current"``, ``"stale"`` or ``"missing"`` (see the module docstring)."""
    path: Path | None
    commit: str | None = None


def _index(config: Config) -> dict[str, dict[str, Any]]:
    found = manifest(config.chapter.name, config.profile, _root_of(config))
    return {_params_id(r["experiment"], r["params"]): r for r in (found or {}).get("runs", [])}


def _root_of(config: Config) -> Path | None:
    return None if config.store is None else config.store.parent.parent


def _status_of(config: Config, gid: str, exp: Experiment, index: Mapping[str, dict[str, Any]]) -> RunStatus:
    store = config.store if config.store is not None else profile_dir(config.chapter.name, config.profile)
    key = exp.key()
    current = store / "runs" / exp.name / key
    old = index.get(_params_id(exp.name, exp.params()))
    if current.is_dir():
        return RunStatus(gid, exp.name, key, "current", current, (old or {}).get("commit"))
    if old is not None:
        return RunStatus(gid, exp.name, old["key"], "stale", store / "runs" / exp.name / old["key"], old.get("commit"))
    return RunStatus(gid, exp.name, key, "missing", None)


def status(config: Config) -> list[RunStatus]:
    """The :class:`RunStatus` of every run ``config`` plans, in plan order."""
    index = _index(config)
    return [_status_of(config, gid, exp, index) for gid, exp in config.plan()]


class _CommittedReader:
    """What a :class:`~c2f_utils.experiments.Config` of committed runs reads them with."""

    def grid(self, config: Config, gid: str) -> list[RunResult]:
        return read_grid(config, gid)

    def one(self, config: Config, exp: Experiment) -> RunResult:
        return read_committed(config, "", exp)


def committed(chapter: Chapter, profile: str, root: str | os.PathLike[str] | None = None) -> Config:
    """The chapter's ``profile`` as declared, reading its runs from the committed results only."""
    config = chapter.configure(profile)
    return dataclasses.replace(config, store=profile_dir(chapter.name, profile, root), reader=_CommittedReader())


def read_committed(
    config: Config, gid: str, exp: Experiment, index: Mapping[str, dict[str, Any]] | None = None
) -> RunResult:
    """The committed result of one planned run (current, else stale); raises :class:`EvidenceError`.

    ``index`` is the manifest's runs by parameters (read from disk when not given).
    """
    index = _index(config) if index is None else index
    st = _status_of(config, gid, exp, index)
    if st.state == "missing" or st.path is None:
        raise EvidenceError(
            f"No committed result for {exp.name} {json.dumps(exp.params(), sort_keys=True)} in {config.store}: "
            f"record the {config.profile!r} profile (python -m c2f_utils.run {config.chapter.name} "
            f"--profile {config.profile} --executor local --record)"
        )
    left_out = index.get(_params_id(exp.name, exp.params()), {}).get("left_out", ())
    try:
        result = read_entry(st.path, exp.name, left_out)
    except (OSError, ValueError) as exc:  # a damaged or edited committed file: say which run it is
        raise ValueError(f"Committed run {exp.name} {st.key} ({st.path}) is damaged: {exc}") from exc
    if st.state == "stale":
        result.provenance = {**result.provenance, "stale": True}
    return result


def read_grid(config: Config, gid: str) -> list[RunResult]:
    """The committed results of every run of grid ``gid`` (the manifest read once)."""
    index = _index(config)
    return [read_committed(config, gid, exp, index) for exp in config.runs(gid)]


def _summary(states: Iterable[RunStatus]) -> tuple[str, str]:
    states = list(states)
    counts = {s: sum(r.state == s for r in states) for s in ("current", "stale", "missing")}
    commits = sorted({(r.commit or "unknown")[:10] for r in states if r.state != "missing"})
    if counts["missing"] == len(states):
        return "missing", "not recorded"
    if counts["missing"]:
        return "missing", f"{counts['missing']} of {len(states)} runs not recorded"
    where = f"commit {', '.join(commits)}"
    if counts["stale"]:
        return "stale", f"stale: {counts['stale']} of {len(states)} runs recorded at {where}, code changed since"
    return "current", f"current: recorded at {where}"


def _recorded_provenance(st: RunStatus) -> dict[str, Any] | None:
    """The provenance in a committed run's ``record.json`` (None when there is no entry)."""
    if st.path is None or not (st.path / "record.json").is_file():
        return None
    return json.loads((st.path / "record.json").read_text()).get("provenance", {})


def platform_note(states: Iterable[RunStatus]) -> str:
    """Where the committed runs of ``states`` were computed on another platform than this one
    (:data:`c2f_utils.identity.PLATFORM_FACTS`): ``"; recorded on another platform (...)"``, else ``""``.

    Numbers from another device, CPU model, thread count or CUDA version may differ in their
    last bits from what this machine would compute: they are shown as recorded there.
    """
    here = platform_facts()
    found: dict[str, set[str]] = {}
    unknown = 0
    for st in states:
        recorded = _recorded_provenance(st)
        if recorded is None:
            continue
        unknown += "cpu_model" not in recorded
        for fact, (then, _) in platform_differences(recorded, here).items():
            found.setdefault(fact, set()).add(str(then))
    parts = [f"{fact} {', '.join(sorted(v))} (here {here[fact]})" for fact, v in sorted(found.items())]
    note = f"; recorded on another platform: {'; '.join(parts)}" if parts else ""
    if unknown:  # written before the CPU model was kept: the last digits may be another machine's
        note += f"; CPU model not recorded for {unknown} runs"
    return note


def code_note(config: Config, states: list[RunStatus]) -> str:
    """``"; source changed since for k of n runs"`` when current committed runs were computed by
    other source than this checkout's (their declared versions equal: their keys still match),
    else ``""``. Runs recorded before the source was fingerprinted are not counted."""
    changed = known = 0
    for (_, exp), st in zip(config.plan(), states, strict=True):
        if st.state != "current":
            continue
        recorded = (_recorded_provenance(st) or {}).get("source_fingerprint")
        if recorded is None:
            continue
        known += 1
        changed += recorded != source_fingerprint(exp.source_files())
    return f"; source changed since for {changed} of {known} runs (same declared versions)" if changed else ""


def describe(config: Config, states: list[RunStatus] | None = None) -> str:
    """One line on a committed profile: how many runs, their status, commit, device, run time
    (``states``: :func:`status` of ``config``, computed when not given)."""
    states = status(config) if states is None else states
    state, text = _summary(states)
    found = manifest(config.chapter.name, config.profile, _root_of(config))
    if state == "missing" and found is None:
        return f"{config.chapter.name}, {config.profile} profile: no committed runs (never recorded)"
    devices = sorted({r.get("device") or "?" for r in (found or {}).get("runs", [])})
    minutes = (found or {}).get("total_run_time_s", 0) / 60
    return (
        f"{config.chapter.name}, {config.profile} profile: {len(states)} runs, {text}; "
        f"device {', '.join(devices)}; {minutes:.1f} min of run time{platform_note(states)}{code_note(config, states)}"
    )


def show(
    chapter: Chapter,
    profile: str,
    draw: Callable[..., Any],
    *args: Any,
    root: str | os.PathLike[str] | None = None,
) -> Any:
    """Print :func:`describe` for a committed profile and return ``draw(config, *args)`` when its runs exist."""
    config = committed(chapter, profile, root)
    states = status(config)
    print(describe(config, states))
    return None if _summary(states)[0] == "missing" else draw(config, *args)


def scorecards(
    card: Callable[[Config], pd.DataFrame],
    live: Config,
    live_card: pd.DataFrame | None = None,
    profiles: Iterable[str] = COMMITTED_PROFILES,
    root: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The live scorecard and every committed profile's, one row per (claim, profile).

    ``card(config)`` computes a chapter's scorecard from ``config.results``; it is called
    on the live configuration (unless ``live_card`` is given) and on each committed profile
    that has recorded runs. The ``evidence`` column says whether a row was executed live,
    read from current committed runs, or from stale ones (with their commit).
    """
    parts = []
    first = live_card if live_card is not None else card(live)
    parts.append(first.assign(evidence=f"executed live ({live.profile})"))
    for profile in profiles:
        if profile == live.profile or profile not in live.chapter.profiles:
            continue
        config = committed(live.chapter, profile, root)
        states = status(config)
        state, text = _summary(states)
        text += platform_note(states)
        if state == "missing":
            continue
        try:
            parts.append(card(config).assign(evidence=text))
        except FileNotFoundError as exc:  # a claim computed from data absent here (DatasetNotFoundError)
            row = {c: "—" for c in first.columns} | {"profile, data, seeds": f"{profile}; not computed"}
            missing = pd.DataFrame([row | {"evidence": f"{text}; needs data absent here: {exc}"}])
            parts.append(missing.set_axis(["(every claim of this profile)"]).rename_axis("claim"))
    for part in parts:  # the chapter's power note, per profile (what its seed counts can decide)
        if "verdict" in part.columns and not part["verdict"].eq("—").all():
            print(f"Power, {part['profile, data, seeds'].iloc[0].split(';')[0]}: {report.power_note(part)}")
    out = pd.concat(p.assign(profile=p["profile, data, seeds"].str.split(";").str[0]) for p in parts).reset_index()
    # A claim judged on a recorded benchmark is the same in every profile's card: shown once.
    bench = out.profile == report.BENCHMARK
    out.loc[bench, "evidence"] = "recorded benchmark (benchmarks/results)"
    out = out[~(bench & out.duplicated(["claim", "profile"]))]
    order = {c: i for i, c in enumerate(first.index)}
    out = out.iloc[out["claim"].map(lambda c: order.get(c, len(order))).argsort(kind="stable")]
    return out.set_index(["claim", "profile"])
