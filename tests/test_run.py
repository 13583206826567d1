"""The papermill runner and the setting chapter executed end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from c2f_utils import run


def test_unknown_parameter_is_rejected_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        run.main(["setting", "-p", "epoch", "3", "--out", str(tmp_path)])
    assert info.value.code == 2
    assert "epoch" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was executed or written


def test_wrong_type_is_rejected_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        run.main(["setting", "-p", "epochs", "many", "--out", str(tmp_path)])
    assert "epochs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main(["setting", "--profile", "fast"])
    with pytest.raises(SystemExit):
        run.main(["nope"])
    assert not any(tmp_path.iterdir())


def test_list_prints_parameters(capsys: pytest.CaptureFixture) -> None:
    assert run.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "setting" in out and "probe_every" in out


def test_run_chapter_rejects_bad_parameters_without_executing(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="lr_max"):
        run.run_chapter("setting", {"lr_max": 1.0}, out=tmp_path)
    with pytest.raises(TypeError, match="epochs"):
        run.run_chapter("setting", {"epochs": "3"}, out=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_setting_chapter_executes_with_injected_parameters(tmp_path: Path) -> None:
    """Run the chapter through the CLI, in a subprocess as a user would, with small parameters."""
    cmd = [
        sys.executable,
        "-m",
        "c2f_utils.run",
        "setting",
        "-p",
        "epochs",
        "2",
        "-p",
        "seeds",
        "0,1",
        "-p",
        "coarsening",
        "parity",
        "--out",
        str(tmp_path),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    results = json.loads((tmp_path / "setting.results.json").read_text())
    assert results["given_parameters"] == {"profile": "quick", "epochs": 2, "seeds": [0, 1], "coarsening": "parity"}
    params = results["results"]["parameters"]
    assert params["epochs"] == 2 and params["coarsening"] == "parity" and params["dataset"] == "digits"
    assert len(results["results"]["scorecard"]) == 5
    assert {"device", "git_commit", "wall_time_s"} <= set(results["provenance"])
    nb = nbformat.read(tmp_path / "setting.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "epochs = 2" in injected[0].source
    assert any(
        o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
        for c in nb.cells
        for o in c.get("outputs", [])
    )


@pytest.mark.slow
def test_setting_chapter_quick_profile_with_papermill(tmp_path: Path) -> None:
    """The chapter exactly as the book runs it: quick profile, default parameters."""
    path = run.run_chapter("setting", out=tmp_path)
    results = json.loads(path.read_text())
    card = {row["claim"]: row for row in results["results"]["scorecard"]}
    assert results["results"]["parameters"]["seeds"] == [0, 1, 2]
    assert all(row["verdict"] for row in card.values())
    nb = nbformat.read(tmp_path / "setting.ipynb", as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
