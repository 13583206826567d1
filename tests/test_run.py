"""The papermill runner and the setting chapter executed end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
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


def test_list_prints_parameters_with_bounds_choices_and_profiles(capsys: pytest.CaptureFixture) -> None:
    assert run.main(["--list"]) == 0
    assert "setting: The coarse-to-fine setting" in capsys.readouterr().out
    assert run.main(["--list", "setting"]) == 0
    out = capsys.readouterr().out
    assert "epochs (int; in [1, inf); quick=30, real=20, paper=20)" in out
    choices = "one of ['digits', 'mnist10k', 'mnist']"
    assert f"dataset (str; {choices}; quick='digits', real='mnist10k', paper='mnist')" in out
    assert "seeds (list[int]" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "epochs", "0"], "`epochs` in [1"),
        (["-p", "lr", "-1"], "`lr` in (0"),
        (["-p", "device", "gpu"], "`device`"),
        (["-p", "seeds", "0,-2"], "`seeds[1]`"),
        (["-p", "profile", "slow"], "'slow'"),
        (["--profile", "fast"], "'fast'"),
        (["-p", "coarsening", "thirds"], "`coarsening`"),
    ],
)
def test_out_of_range_values_are_rejected_before_a_kernel_starts(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as info:
        run.main(["setting", *args, "--out", str(tmp_path)])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_plan_prints_every_run_with_its_key(capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path))
    assert run.main(["setting", "--plan", "-p", "seeds", "3,4", "-p", "profile", "paper"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    train = [r for r in records if r["grid"] == "train"]
    assert [(r["params"]["labeling"], r["params"]["seed"]) for r in train] == [
        ("coarse", 3),
        ("coarse", 4),
        ("fine", 3),
        ("fine", 4),
    ]
    assert {r["profile"] for r in records} == {"paper"} and {r["params"]["dataset"] for r in records} == {"mnist"}
    assert all(len(r["key"]) == 32 and r["cached"] is False for r in records)
    assert not any(tmp_path.iterdir())  # planning trains nothing and writes nothing


def test_plan_ends_with_a_summary_on_stderr(capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path))
    assert run.main(["setting", "--plan"]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]  # stdout: only the JSON records
    assert err.strip() == f"{len(records)} runs: 0 cached, {len(records)} to compute"


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_parameters_file_gives_the_same_plan_as_the_options(
    suffix: str, capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path / "cache"))
    values = {"profile": "paper", "seeds": [3, 4], "epochs": 2}
    file = tmp_path / f"params{suffix}"
    file.write_text(json.dumps(values) if suffix == ".json" else "profile: paper\nseeds: [3, 4]\nepochs: 2\n")
    assert run.main(["setting", "--plan", "-f", str(file)]) == 0
    from_file = capsys.readouterr().out
    assert run.main(["setting", "--plan", "-p", "profile", "paper", "-p", "seeds", "3,4", "-p", "epochs", "2"]) == 0
    assert from_file == capsys.readouterr().out
    assert run.main(["setting", "--plan", "-f", str(file), "-p", "epochs", "3"]) == 0  # -p wins over the file
    assert {json.loads(line)["params"].get("epochs", 3) for line in capsys.readouterr().out.splitlines()} == {3}


def test_a_bad_parameters_file_is_an_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name, text, expected in [
        ("missing.yaml", None, "readable parameters file"),
        ("list.yaml", "- 1\n- 2\n", "mapping of parameter names"),
        ("broken.json", "{", "YAML or JSON"),
        ("unknown.yaml", "epoch: 2\n", "epoch"),
        ("bad.yaml", "epochs: -1\n", "epochs"),
    ]:
        file = tmp_path / name
        if text is not None:
            file.write_text(text)
        with pytest.raises(SystemExit):
            run.main(["setting", "--plan", "-f", str(file)])
        err = capsys.readouterr().err
        assert expected in err, (name, err)
        if expected != "epoch" and expected != "epochs":
            assert str(file) in err


def test_each_set_of_overrides_has_its_own_output_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run.overrides_tag({}) == "" and run.overrides_tag(None) == ""
    a, b = run.overrides_tag({"epochs": 2, "seeds": (0, 1)}), run.overrides_tag({"seeds": (0, 1), "epochs": 2})
    assert a == b and len(a) == 8 and a != run.overrides_tag({"epochs": 3, "seeds": (0, 1)})
    assert run.output_folder(None, "setting", "quick") == Path("c2f_runs/setting-quick")
    assert run.output_folder(None, "setting", "quick", {"epochs": 2, "seeds": (0, 1)}) == Path(
        f"c2f_runs/setting-quick-{a}"
    )
    assert run.output_folder(tmp_path / "mine", "setting", "quick", {"epochs": 2}) == tmp_path / "mine"


def test_run_chapter_rejects_bad_parameters_without_executing(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="lr_max"):
        run.run_chapter("setting", {"lr_max": 1.0}, out=tmp_path)
    with pytest.raises(TypeError, match="epochs"):
        run.run_chapter("setting", {"epochs": "3"}, out=tmp_path)
    with pytest.raises(ValueError, match="epochs"):
        run.run_chapter("setting", {"profile": "paper", "epochs": -3}, out=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_unknown_parameter_is_an_error_under_plain_papermill(tmp_path: Path) -> None:
    """papermill itself only warns about a name the parameters cell lacks; the notebook refuses it."""
    import jupytext
    import papermill

    book = Path(__file__).resolve().parents[1] / "book"
    source = tmp_path / "setting.ipynb"
    jupytext.write(jupytext.read(book / "setting.md"), source)
    with pytest.raises(papermill.PapermillExecutionError, match="epoch"):
        papermill.execute_notebook(
            str(source), str(tmp_path / "out.ipynb"), parameters={"epoch": 3}, cwd=str(book), progress_bar=False
        )


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
    cache = tmp_path / "cache"
    env = {**os.environ, "C2F_CACHE_DIR": str(cache)}
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600, env=env)
    results = json.loads((tmp_path / "setting.results.json").read_text())
    # The notebook executed exactly the planned runs: each one is cached, and nothing else is.
    plan = run.configure("setting", "quick", {"epochs": 2, "seeds": [0, 1], "coarsening": "parity"})
    records = plan.plan_records(cache_dir=str(cache))
    assert all(r["cached"] for r in records)
    on_disk = {f"{p.parent.name}/{p.name}" for p in (cache / "runs").glob("*/*") if not p.name.startswith(".")}
    assert on_disk == {f"{r['experiment']}/{r['key']}" for r in records}
    # what papermill injected into the parameters cell: the profile and one dict of overrides
    overrides = {"epochs": 2, "seeds": [0, 1], "coarsening": "parity"}
    assert results["given_parameters"] == {"profile": "quick", "overrides": overrides}
    params = results["results"]["parameters"]
    assert params["epochs"] == 2 and params["coarsening"] == "parity" and params["dataset"] == "digits"
    assert len(results["results"]["scorecard"]) == 5
    assert {row["verdict"] for row in results["results"]["scorecard"]} == {"not tested"}  # two seeds
    assert {row["verdict"] for row in results["results"]["scorecard"]} == {"not tested"}  # two seeds
    assert {"device", "git_commit", "wall_time_s"} <= set(results["provenance"])
    nb = nbformat.read(tmp_path / "setting.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'overrides = {"epochs": 2, ' in injected[0].source
    assert any(
        o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
        for c in nb.cells
        for o in c.get("outputs", [])
    )


@pytest.mark.slow
def test_setting_chapter_quick_profile_with_papermill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chapter exactly as the book runs it: quick profile, default parameters. A user-level
    ``python3`` kernel of another environment (here one that cannot start) is not used: the
    runner's interpreter runs the chapter."""
    broken = tmp_path / "jupyter" / "kernels" / "python3"
    broken.mkdir(parents=True)
    (broken / "kernel.json").write_text(json.dumps({"argv": ["/nonexistent/python", "-f", "{connection_file}"],
                                                    "display_name": "elsewhere", "language": "python"}))  # fmt: skip
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    path = run.run_chapter("setting", out=tmp_path)
    assert os.environ["JUPYTER_PATH"] == str(tmp_path / "jupyter")  # restored
    results = json.loads(path.read_text())
    card = {row["claim"]: row for row in results["results"]["scorecard"]}
    assert results["results"]["parameters"]["seeds"] == [0, 1, 2]
    assert all(row["verdict"] for row in card.values())
    nb = nbformat.read(tmp_path / "setting.ipynb", as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []


def test_the_kernel_reports_progress_as_log_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebooks the runner executes get C2F_PROGRESS=log (papermill's log can show lines, not widgets),
    unless the caller set it; the variable is restored afterwards."""
    import papermill

    seen: list[str | None] = []

    def fake_execute(*args, **kwargs) -> None:
        seen.append(os.environ.get("C2F_PROGRESS"))

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.delenv("C2F_PROGRESS", raising=False)
    run.run_chapter("setting", out=tmp_path)
    assert seen == ["log"] and "C2F_PROGRESS" not in os.environ
    monkeypatch.setenv("C2F_PROGRESS", "off")
    run.run_chapter("setting", out=tmp_path)
    assert seen[-1] == "off" and os.environ["C2F_PROGRESS"] == "off"


def _stubbed_main(argv: list[str], monkeypatch: pytest.MonkeyPatch, sweep_error: BaseException | None = None) -> dict:
    """``run.main(argv)`` with the sweep and the notebook stubbed out; what they were given."""

    seen: dict = {}

    def fake_sweep(args, config) -> int:
        seen["workers"] = args.workers
        if sweep_error is not None:
            raise sweep_error
        return 0

    def fake_run_chapter(*args, **kwargs) -> Path:
        seen["out"] = kwargs["out"]
        return Path(kwargs["out"]) / "setting.results.json"

    monkeypatch.setattr(run, "_sweep", fake_sweep)
    monkeypatch.setattr(run, "run_chapter", fake_run_chapter)
    monkeypatch.setattr(run, "check_data", lambda config: [])
    seen["status"] = run.main(argv)
    return seen


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one_are_an_error_not_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, workers: str
) -> None:
    with pytest.raises(SystemExit) as info:
        _stubbed_main(["setting", "--executor", "local", "--workers", workers, "--out", str(tmp_path)], monkeypatch)
    assert info.value.code == 2 and "--workers: expected an integer >= 1" in capsys.readouterr().err
    assert (
        _stubbed_main(["setting", "--executor", "local", "--workers", "1", "--out", str(tmp_path)], monkeypatch)[
            "workers"
        ]
        == 1
    )


@pytest.mark.parametrize("seeds", ["0,0,0", "2,1,2"])
def test_repeated_seeds_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, seeds: str
) -> None:
    with pytest.raises(ValueError, match="distinct values in `seeds`"):
        run.run_chapter("setting", {"seeds": [0, 0, 0]}, out=tmp_path)
    with pytest.raises(SystemExit):
        _stubbed_main(["setting", "-p", "seeds", seeds, "--out", str(tmp_path)], monkeypatch)
    assert "Expected distinct values in `seeds`" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_an_output_path_that_is_a_file_is_an_error_before_the_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    a_file = tmp_path / "results.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="Expected `out` to be a folder"):
        run.run_chapter("setting", out=a_file)
    for out in (a_file, a_file / "run"):
        with pytest.raises(SystemExit):
            _stubbed_main(["setting", "--executor", "local", "--out", str(out)], monkeypatch)
        assert "--out: Expected `out`" in capsys.readouterr().err


def test_ctrl_c_during_a_sweep_ends_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from c2f_utils.sweep import Outcome, SweepInterrupted, SweepReport

    done = [Outcome("g", "e", str(i), {}, s) for i, s in enumerate(["cached", "done", "pending", "pending"])]
    interrupted = SweepInterrupted(SweepReport(done, 3.0))
    argv = ["setting", "--executor", "local", "--out", str(tmp_path)]
    assert _stubbed_main(argv, monkeypatch, interrupted)["status"] == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["interrupted: 4 runs: 1 cached, 1 done, 0 failed, 2 pending in 3.0 s; "
                   "the same command again resumes the 2 pending run(s)"]  # fmt: skip


def test_an_interrupted_notebook_leaves_no_previous_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    stale = tmp_path / "setting.results.json"
    stale.write_text('{"results": "of the previous run"}')

    def interrupted(*args, **kwargs) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run.run_chapter("setting", out=tmp_path)
    assert not stale.exists()


def test_version_names_the_package_and_the_command_is_declared(capsys) -> None:
    import tomllib
    from pathlib import Path

    import c2f_utils

    with pytest.raises(SystemExit) as stop:
        run.main(["--version"])
    assert stop.value.code == 0 and f"c2f_utils {c2f_utils.__version__}" in capsys.readouterr().out
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["c2f-run"] == "c2f_utils.run:main"


def test_only_narrows_plan_to_a_grid_or_an_experiment(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path))
    assert run.main(["fierce", "--plan", "--only", "age"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records and {(r["grid"], r["experiment"]) for r in records} == {("age", "fierce.age")}
    assert run.main(["fierce", "--plan", "--only", "fierce.unmixing"]) == 0
    grids = {json.loads(line)["grid"] for line in capsys.readouterr().out.splitlines()}
    assert grids == {"unmix", "lambdas", "anchor_counts", "variants"}
    assert run.main(["synthesis", "--plan", "--only", "distill_ce"]) == 0  # the teachers a student needs come too
    names = {json.loads(line)["experiment"] for line in capsys.readouterr().out.splitlines()}
    assert names == {"synthesis.train", "synthesis.distill"}
    with pytest.raises(SystemExit):
        run.main(["fierce", "--plan", "--only", "ages"])
    assert "did you mean 'age'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main(["fierce", "--profile", "real", "--record", "--only", "age"])
    assert "no --only" in capsys.readouterr().err


def test_only_checks_the_data_of_its_runs_alone(capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch) -> None:
    """Your own image folder through FIERCE's age experiment: the other experiments' data
    (Samson, CIFAR-10) need not be there."""
    from PIL import Image

    folder = tmp_path / "faces"
    rows = ["file,age"]
    for split in ("train", "test"):
        (folder / split).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (12, 12), (20 * i, 10, 10)).save(folder / split / f"{i}.png")
            rows.append(f"{split}/{i}.png,{20 + 5 * i}")
    (tmp_path / "ages.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("C2F_DATA_DIR", str(tmp_path / "empty"))
    own = ["-p", "age.dataset", "image_folder", "-p", "age.folder", str(folder), "-p", "age.targets"]
    status = run.main(
        ["fierce", "--profile", "real", "--check-data", "--only", "age", *own, str(tmp_path / "ages.csv")]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "every dataset found" in out
    assert run.main(["fierce", "--profile", "real", "--check-data"]) == 2  # the whole chapter needs Samson etc.


def test_only_computes_its_runs_and_prints_their_metrics(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert run.main(["setting", "--only", "raw", "--workers", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["grid"], r["experiment"]) for r in lines] == [("raw", "setting.raw_input_probe")]
    assert 0.5 < lines[0]["metrics"]["fine_probe_acc"] <= 1
    assert not (tmp_path / "c2f_runs").exists()  # no notebook ran, no output folder


@pytest.mark.slow
def test_only_trains_fierce_age_on_your_own_faces_and_csv(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch
) -> None:
    """Held-out data the project never saw, end to end with no code change: a folder of images
    with a CSV of ages (in subfolders, with two numeric columns) through FIERCE's age experiment."""
    from PIL import Image

    folder, rows = tmp_path / "my_faces", ["image,age,weight_kg"]
    rng = np.random.default_rng(0)
    for i in range(24):
        part = folder / f"batch{i % 2}"
        part.mkdir(parents=True, exist_ok=True)
        age = 20 + 2 * i
        pixels = (rng.random((10, 10, 3)) * 40 + 4 * age).clip(0, 255).astype(np.uint8)  # brighter when older
        Image.fromarray(pixels).save(part / f"{i:03d}.png")
        rows.append(f"batch{i % 2}/{i:03d}.png,{age},{60 + i}")
    (tmp_path / "ages.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("C2F_DATA_DIR", str(tmp_path / "empty"))  # no UTKFace, no Samson, no CIFAR
    monkeypatch.chdir(tmp_path)
    own = ["-p", "age.dataset", "image_folder", "-p", "age.folder", str(folder), "-p", "age.recursive", "true"]
    own += ["-p", "age.targets", str(tmp_path / "ages.csv"), "-p", "age.target_column", "age"]
    tiny = ["-p", "seeds", "[0]", "-p", "age.epochs", "2", "-p", "age.image_size", "8", "-p", "age.batch_size", "8"]
    status = run.main(["fierce", "--profile", "real", "--only", "age", "--workers", "1", *own, *tiny])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert status == 0
    assert {r["experiment"] for r in lines} == {"fierce.age"} and len(lines) == 3  # CE, LS, FIERCE; seed 0
    for r in lines:
        assert r["params"]["dataset"] == "image_folder" and r["params"]["folder"] == str(folder)
        assert np.isfinite(r["metrics"]["mse_test_final"]) and r["metrics"]["mse_test_final"] >= 0
        assert 0 <= r["metrics"]["test_acc"] <= 1
