"""Every committed result file (results/<chapter>/<profile>/) against the current experiment definitions.

A committed profile must be the profile as declared now (same parameter values, the same
planned runs), every file must pass its checksum, and every record must be internally
consistent (its key is the hash of its name, parameters and recorded code fingerprint). A
record whose key no longer matches the current code is *stale*: the book labels it so
(with its commit), and this test checks that it is classified that way, never as current.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from c2f_utils import chapters, evidence
from c2f_utils.runs import read_entry, run_key

ROOT = evidence.results_dir()
MANIFESTS = sorted(ROOT.glob("*/*/manifest.json"))
RECORDED = {f"{p.parent.parent.name}/{p.parent.name}" for p in MANIFESTS}
# Profiles whose runs have been recorded and must stay in the repository (issue 11's evidence).
EXPECTED = {"setting/real", "fierce/real", "ls_ib/real", "lls/real", "ot_transfer/real", "synthesis/real"}


def _old_key(name: str, params: dict, provenance: dict) -> str:
    """The key a record had before run identity was declared (issue 27): the SHA-256 of its name,
    parameters and the source fingerprint kept in its provenance. Such records were moved to the
    key their declaration gives, unchanged; the manifest keeps the old key and the declaration."""
    content = {"name": name, "params": params, "code": provenance["code_fingerprint"]}
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def test_expected_profiles_are_recorded() -> None:
    assert EXPECTED <= RECORDED, f"missing committed results: {sorted(EXPECTED - RECORDED)}"


def test_results_folder_holds_only_recorded_profiles() -> None:
    for folder in ROOT.glob("*/*"):
        if folder.name.startswith("."):
            continue
        assert (folder / evidence.MANIFEST).is_file(), f"{folder} has no manifest (record it with --record)"
        assert folder.parent.name in chapters.load_all(), f"{folder}: no chapter {folder.parent.name!r}"
        assert folder.name in evidence.COMMITTED_PROFILES


@pytest.mark.parametrize("path", MANIFESTS, ids=sorted(RECORDED))
def test_committed_profile_matches_current_definitions(path: Path) -> None:
    manifest = json.loads(path.read_text())
    chapter = chapters.get(manifest["chapter"])
    declared = chapter.configure(manifest["profile"])
    # parameters added later at a default that changes nothing (param(omit_default=True)) are not declared;
    # a manifest recorded before parameters were named EXPERIMENT.FIELD holds their former names
    recorded_values = chapter.canonical(manifest["values"], warn=False)
    assert recorded_values == declared.declared_values(), "the profile's declaration changed: rerun and --record it"
    planned = sorted(json.dumps([e.name, e.params()], sort_keys=True) for _, e in declared.plan())
    recorded = sorted(json.dumps([r["experiment"], r["params"]], sort_keys=True) for r in manifest["runs"])
    assert planned == recorded

    for run in manifest["runs"]:
        entry = path.parent / "runs" / run["experiment"] / run["key"]
        result = read_entry(entry, run["experiment"], run.get("left_out", ()))  # raises on any checksum mismatch
        assert all(not (entry / f).exists() for f in run.get("left_out", ()))
        assert all(f.stat().st_size <= evidence.MAX_FILE_BYTES for f in entry.iterdir())
        assert result.params == run["params"]
        if "rekeyed" in run:  # recorded under the source-fingerprint keys, re-keyed unchanged (see _old_key)
            assert run["rekeyed"]["from"] == _old_key(run["experiment"], result.params, result.provenance)
            assert run["key"] == run_key(run["experiment"], result.params, run["rekeyed"]["declared"])
        else:
            assert run["key"] == run_key(run["experiment"], result.params, result.provenance["declared"])
        assert run["commit"] == result.provenance["git_commit"] and run["commit"]
        assert not run["commit"].endswith("-dirty"), "recorded from a checkout with uncommitted changes"
    on_disk = {p.name for p in (path.parent / "runs").glob("*/*")}
    assert on_disk == {r["key"] for r in manifest["runs"]}, "files in runs/ that the manifest does not list"

    states = evidence.status(evidence.committed(chapter, manifest["profile"]))
    assert {s.state for s in states} <= {"current", "stale"}
    by_key = {r["key"]: r for r in manifest["runs"]}
    for (_, exp), state in zip(declared.plan(), states, strict=True):
        assert (state.state == "current") == (by_key[state.key]["key"] == exp.key())


@pytest.mark.parametrize("path", MANIFESTS, ids=sorted(RECORDED))
def test_committed_runs_are_current_under_the_declared_identity(path: Path) -> None:
    """Every committed run's key is the one its declaration gives now: refactoring since it was
    recorded left it current. A version bump makes runs stale; record the profile again then."""
    manifest = json.loads(path.read_text())
    config = evidence.committed(chapters.get(manifest["chapter"]), manifest["profile"], ROOT)
    stale = [f"{s.experiment} {s.key}" for s in evidence.status(config) if s.state != "current"]
    assert stale == [], f"record {manifest['chapter']}/{manifest['profile']} again: {stale[:5]}"
