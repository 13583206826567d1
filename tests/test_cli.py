"""The ``c2f`` console script (issue 29): ``c2f run``, ``c2f data``, ``c2f --version``."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import c2f_utils
from c2f_utils import cli

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_package_s(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"c2f {c2f_utils.__version__}"


def test_help_lists_the_subcommands(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and "usage: c2f" in out
    for command in cli.COMMANDS:
        assert f"    {command} " in out
    assert cli.main([]) == 2  # no command: the help, on stderr
    assert "run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(["plan"])
    assert stop.value.code == 2 and "invalid choice: 'plan'" in capsys.readouterr().err


def test_run_forwards_its_arguments_to_the_runner(capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path))
    assert cli.main(["run", "fierce", "--plan", "--only", "age", "-p", "seeds", "0"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [(r["grid"], r["params"]["criterion"]) for r in records] == [("age", "ce"), ("age", "ls"), ("age", "fierce")]
    assert "3 runs: 0 cached, 3 to compute" in captured.err
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "setting", "-p", "epoch", "3"])
    assert stop.value.code == 2 and "usage: c2f run" in capsys.readouterr().err  # errors name the command
    with pytest.raises(SystemExit):
        cli.main(["run", "--version"])
    assert f"c2f run (c2f_utils {c2f_utils.__version__})" in capsys.readouterr().out


def test_data_forwards_to_the_data_tool(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert cli.main(["data", "--data-dir", str(tmp_path), "check", "samson"]) == 0
    assert "samson (all): missing" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["data", "check", "nope"])
    assert "usage: c2f data" in capsys.readouterr().err


def test_bad_arguments_are_named() -> None:
    with pytest.raises(TypeError, match="`argv`"):
        cli.main(["run", 3])  # type: ignore[list-item]
    from c2f_utils import run

    with pytest.raises(ValueError, match="`prog`"):
        run.main(["--list"], prog="")


def test_pyproject_declares_c2f_and_keeps_c2f_run() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["c2f"] == "c2f_utils.cli:main" and scripts["c2f-run"] == "c2f_utils.run:main"


def test_the_entry_point_runs_as_a_command() -> None:
    """What the installed script calls (``c2f_utils.cli:main``), run as a process."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from c2f_utils.cli import main; sys.exit(main())", "run", "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "fierce: FIERCE" in done.stdout
