"""The OT-transfer chapter: declared profiles, legacy class splits, the paper path on fake data, report, tiny runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from anatomy import by_hand
from behaviour import check_smoke_digests, smoke_digest, smoke_id
from fake_data import accept_fake_cifar_batches, write_fake_cifar10_batches, write_fake_fgvc
from scipy import stats

from c2f_utils import data, probes, report
from c2f_utils import run as runner
from c2f_utils.chapters import ot_transfer as ch
from c2f_utils.chapters.ot_transfer import networks, penalties
from c2f_utils.models import PretrainedResNet

REPO = Path(__file__).resolve().parent.parent


def test_notebook_parameters_cell_names_exactly_the_chapter_parameters() -> None:
    import jupytext

    nb = jupytext.read(ch.CHAPTER.source_path(REPO / "book"))
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    assert cells[0].source.splitlines() == ['profile = "quick"', "overrides = {}"]  # names: EXPERIMENT.FIELD


def test_quick_profile_carries_the_legacy_values_and_grid() -> None:
    values = ch.CHAPTER.configure("quick").values
    legacy = {
        "dataset": "digits",
        "seeds": [0, 1, 2],
        "device": "cpu",
        "shots": 10,
        "pretrain_epochs": 20,
        "epochs": 20,
        "lr": 0.02,
        "batch_size": 25,
        "alphas": [1e-3, 1e-2, 1e-1],
        "l2sp_beta": 0.01,
        "compress.alphas": [1.0],
        "temperatures": [4.0],
        "compress.epochs": 4,
        "cost.dims": [64, 256, 1024],
        "cost.prox_max_dim": 64,
        "cost.repeats": 5,
        "compress.teacher_epochs": 20,  # legacy: pretrain_epochs
    }
    assert {k: values[k] for k in legacy} == legacy
    config = ch.CHAPTER.configure("quick")
    transfer = config.runs("transfer_none") + config.runs("transfer_l2") + config.runs("transfer")
    assert len(transfer) == 3 + 5 * 3 * 3  # legacy: none once, every other method on the alpha grid
    assert config["l2.alphas"] == config["alphas"]  # the quick profile: L2 on the others' strengths
    real = ch.CHAPTER.configure("real")
    assert {r.alpha for r in real.runs("transfer_l2")} == {1e-4, 1e-3, 1e-2} and real["alphas"] == [1e-3, 1e-2, 0.1]
    assert {r.method for r in real.runs("transfer")} == set(ch.TRANSFER_METHODS[2:])
    assert len(ch.transfer_results(config)) == len(transfer)
    compress = [r for g in ("compress_none", "compress", "compress_identity", "compress_kd") for r in config.runs(g)]
    keys = {(r.student, r.method) for r in compress}
    assert len(compress) == 27 and ("S", "omega_i") not in keys and len(keys) == 9
    assert {r.temperature for r in compress if r.method == "kd"} == {4.0}
    references = {e.name for _, e in config.plan() if e.name == "ot_transfer.reference"}
    assert references == {"ot_transfer.reference"}
    assert sum(e.name == "ot_transfer.reference" for _, e in config.plan()) == 2  # source and teacher, once each


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("shots", 0, "shots"),
        ("epochs", 0, "epochs"),
        ("lr", -1.0, "lr"),
        ("temperatures", [0.0], "temperatures"),
        ("compress.dataset", "imagenet", "compress.dataset"),
        ("device", "gpu", "device"),
        ("alphas", [-0.1], "alphas"),
    ],
)
def test_out_of_range_values_are_rejected_before_any_run(name: str, value, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        ch.CHAPTER.configure("quick", **{name: value})


def test_cross_field_checks() -> None:
    with pytest.raises(ValueError, match="student"):
        ch.Compress(
            dataset="digits",
            student="S",
            method="omega_i",
            alpha=1.0,
            temperature=1.0,
            seed=0,
            teacher_epochs=1,
            epochs=1,
            device="cpu",
        )
    with pytest.raises(ValueError, match="kind"):
        ch.make_model("L")


def test_paper_profile_plans_the_papers_recipe() -> None:
    config = ch.CHAPTER.configure("paper")
    assert config["epochs"] == 175 and config["batch_size"] == 64 and config["temperatures"] == [4.0, 5.0, 10.0]
    assert config["dataset"] == "fgvc_aircraft" and config["compress.dataset"] == "cifar10"
    assert config["solver"] == "proximal" and config["pretrain_epochs"] is None  # ImageNet weights: not trained
    plan = config.plan()
    assert len(plan) > 100  # planned without running anything
    assert [e.role for _, e in plan if e.name == "ot_transfer.reference"] == ["teacher"]
    assert all(not e.requires() for _, e in plan if e.name == "ot_transfer.finetune")
    assert {e.layers() for _, e in plan if e.name == "ot_transfer.finetune"} == {ch.RESNET_LAYERS}
    with pytest.raises(ValueError, match="dataset"):
        ch.Reference(role="source", dataset="cifar10", epochs=1, device="cpu")
    with pytest.raises(ValueError, match="dataset"):
        config.runs("transfer")[0].source()
    assert [type(m).__name__ for m in (ch.make_model("teacher", "cifar10"), ch.make_model("S", "cifar10"))] == [
        "ResNet",
        "ResNet",
    ]
    assert ch.make_model("S", "cifar10").feature_dim == 32 and ch.make_model("M", "cifar10").feature_dim == 64
    with pytest.raises(ValueError, match="kind"):
        ch.make_model("source", "cifar10")


def test_fgvc_loader_reads_a_fake_copy(tmp_path: Path) -> None:
    write_fake_fgvc(tmp_path)
    train = data.load("fgvc_aircraft", "trainval", data_dir=tmp_path, download=False, size=32)
    assert train.x.shape == (8, 3, 32, 32) and train.x.dtype == torch.float32
    assert train.fine.tolist() == [0, 0, 1, 1, 0, 0, 1, 1] and train.fine_names == ("707-320", "A340-500")
    assert float(train.x[train.fine == 0].max()) < 0.1  # black images of class 0: the white banner is cut off
    test = data.load("fgvc_aircraft", "test", data_dir=tmp_path, download=False, size=32)
    assert len(test) == 4 and data.describe("fgvc_aircraft").kind == "real"
    with pytest.raises(ValueError, match="size"):
        data.load("fgvc_aircraft", "test", data_dir=tmp_path, download=False, size=0)


def test_fgvc_loader_errors_clearly_when_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from c2f_utils.data import fgvc

    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load("fgvc_aircraft", "train", data_dir=tmp_path, download=False)
    assert str(tmp_path / "fgvc-aircraft-2013b") in str(err.value) and fgvc.FGVC_URL in str(err.value)

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr("torchvision.datasets.fgvc_aircraft.download_and_extract_archive", offline)
    with pytest.raises(data.DatasetNotFoundError, match="no network") as err:
        data.load("fgvc_aircraft", "train", data_dir=tmp_path, download=True)
    assert fgvc.FGVC_URL in str(err.value)


def test_pretrained_resnet_returns_features_and_taps() -> None:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = PretrainedResNet(resnet18(), 5, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), taps=(2, 8)).eval()
    out = model(torch.rand(3, 3, 64, 64))
    assert out.logits.shape == (3, 5) and out.features.shape == (3, 512)
    reps = probes.layer_representations(model, torch.rand(3, 3, 64, 64), ["taps.unit2", "taps.unit8"])
    assert reps["taps.unit2"].shape == (3, 64) and reps["taps.unit8"].shape == (3, 512)
    with pytest.raises(ValueError, match="taps"):
        PretrainedResNet(resnet18(), 5, (0.5,) * 3, (0.25,) * 3, taps=(9,))
    with pytest.raises(TypeError, match="network"):
        PretrainedResNet(torch.nn.Linear(2, 2), 5, (0.5,) * 3, (0.25,) * 3)


@pytest.mark.slow
def test_paper_profile_runs_end_to_end_on_fake_data_and_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every run of the paper profile's plan, one strength and seed each: every transfer method on
    ResNet-101 and every compression method, on fake FGVC-Aircraft and CIFAR-10 copies (3 training
    images and 1 test image a class) and random weights under torchvision's file name. Its
    metrics are the paper profile's behaviour digests (``tests/digests/ot_transfer-paper.json``,
    the smoke test's for the other profiles).

    IPOT's dense 2048 x 2048 iterations take about ten minutes per run on a CPU: the exact solver
    runs here (the proximal one is tested at small sizes in tests/test_losses_transport.py).
    ResNet-101 steps on 224 x 224 crops take seconds each on a CPU: one shot and batches of 2.
    Timing the plan solvers up to 2,048 neurons, 20 times each, is the Cost experiment's point,
    not its code path: one timing of 8 neurons runs here."""
    import hashlib

    from torchvision.models import resnet101

    from c2f_utils import weights

    write_fake_fgvc(tmp_path / "data")
    write_fake_cifar10_batches(tmp_path / "data", {"train": 3, "test": 1})
    accept_fake_cifar_batches(monkeypatch)  # torchvision checks the MD5 of the original batches
    torch.save(resnet101().state_dict(), tmp_path / "resnet101-63fe2227.pth")
    digest = hashlib.sha256((tmp_path / "resnet101-63fe2227.pth").read_bytes()).hexdigest()
    monkeypatch.setattr(weights, "hash_prefix", lambda w: digest[:8])  # the fake file stands for torchvision's
    monkeypatch.setenv("C2F_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("C2F_WEIGHTS_DIR", str(tmp_path))
    config = ch.CHAPTER.configure(
        "paper",
        device="cpu",
        solver="exact",  # IPOT's 2,000 dense 2048 x 2048 sweeps take minutes on a CPU; same regularizer
        seeds=[0],
        shots=1,
        epochs=1,
        batch_size=2,
        alphas=[0.01],
        temperatures=[4.0],
        **{"l2.alphas": [0.01], "compress.epochs": 1, "compress.teacher_epochs": 1, "compress.alphas": [1.0]},
        **{"compress.seeds": [0]},  # the compression grid has seeds of its own
        **{"cost.dims": [8], "cost.prox_max_dim": 8, "cost.repeats": 1},
    )
    assert runner.check_data(config) == []  # the data and the weights file, checksum verified
    results, found = {}, {}
    for gid, exp in config.plan():
        result = exp.cached()
        results.setdefault(gid, []).append(result)
        found[smoke_id(exp)] = smoke_digest(exp, result.metrics)
    check_smoke_digests("ot_transfer-paper", found)
    transfer = results["transfer_none"] + results["transfer_l2"] + results["transfer"]
    tuned = [r for r in transfer if r.name == "ot_transfer.finetune"]
    assert len(tuned) == len(ch.TRANSFER_METHODS)
    for r in tuned:
        assert 0.0 <= r.metrics["test_acc"] <= 1.0
        assert all(0.0 <= r.metrics[f"trace_{layer}"] <= 1.0 + 1e-6 for layer in ch.RESNET_LAYERS)
    students = [r for g in ("compress_none", "compress", "compress_identity", "compress_kd") for r in results[g]]
    assert {r.params["method"] for r in students if r.name == "ot_transfer.compress"} == set(ch.COMPRESSION_METHODS)
    assert all(0.0 <= r.metrics["test_acc"] <= 1.0 for r in students if r.name == "ot_transfer.compress")


def _legacy_target_split(seed: int, shots: int):
    """The legacy chapter's few-shot draw of the digits 5-9, written out."""
    train = data.load("digits", "train")
    pool = torch.nonzero(train.fine >= 5).squeeze(1)
    rng = np.random.default_rng([seed, 6])
    tr, va = [], []
    for digit in range(5, 10):
        chosen = rng.permutation(pool[train.fine[pool] == digit].numpy())[: 2 * shots]
        tr.append(chosen[:shots])
        va.append(chosen[shots:])
    return [torch.as_tensor(np.concatenate(i)) for i in (tr, va)]


@pytest.mark.parametrize(("seed", "shots"), [(0, 10), (2, 10), (5, 3)])
def test_class_splits_give_the_legacy_indices(seed: int, shots: int) -> None:
    train = data.load("digits", "train")
    tr_idx, va_idx = _legacy_target_split(seed, shots)
    tr, va = data.few_shot_split(train, ch.TARGET, shots, np.random.default_rng([seed, 6]))
    for part, idx in ((tr, tr_idx), (va, va_idx)):
        assert torch.equal(part.x, train.x[idx]) and torch.equal(part.fine, train.fine[idx] - 5)
    test = data.load("digits", "test")
    target = data.class_subset(test, ch.TARGET, relabel=True)
    keep = test.fine >= 5
    assert torch.equal(target.x, test.x[keep]) and torch.equal(target.fine, test.fine[keep] - 5)


def test_compression_holdout_gives_the_legacy_split() -> None:
    train = data.load("digits", "train")
    mask = torch.zeros(len(train), dtype=torch.bool)
    mask[torch.as_tensor(np.random.default_rng(7).permutation(len(train))[: len(train) // 5])] = True
    fit_part, val = networks.source_holdout("digits")
    assert torch.equal(fit_part.x, train.x[~mask]) and torch.equal(val.fine, train.fine[mask])


def _frame(values: dict[str, list[float]], alphas=(0.1, 1.0)) -> pd.DataFrame:
    rows = []
    for method, accs in values.items():
        for alpha in alphas:
            for seed, acc in enumerate(accs):
                good = alpha == 1.0  # the better strength on validation for every method
                rows.append(
                    {
                        "method": method,
                        "alpha": alpha,
                        "seed": seed,
                        "val_acc": 0.9 if good else 0.5,
                        "test_acc": acc if good else 0.0,
                        **{f"trace_{layer}": 0.5 + 0.1 * seed for layer in ch.LAYERS},
                    }
                )
    return pd.DataFrame(rows)


def test_select_best_and_accuracy_table_against_scipy() -> None:
    accs = [0.70, 0.80, 0.75]
    sel = ch.select_best(_frame({"l2sp": accs, "none": [0.6, 0.7, 0.65]}))
    assert set(sel.alpha) == {1.0} and len(sel) == 6
    table = ch.accuracy_table(sel, ["method"], ["alpha"])
    x = 100 * np.array(accs)
    half = stats.t.ppf(0.975, 2) * x.std(ddof=1) / np.sqrt(3)
    assert table.loc["L2-SP", "test accuracy (%)"] == f"{x.mean():.2f} ± {half:.2f}"
    assert table.loc["L2-SP", "std"] == pytest.approx(round(x.std(ddof=1), 2))
    assert list(table.index) == ["none", "L2-SP"] and table.loc["none", "seeds"] == 3


def _demo(omega_p: float = 0.0, recovered: float = 1.0) -> pd.DataFrame:
    cols = ["neurons moved", "max |Δ logits|", "Ω_P", "Ω_I", "Ω_U", "trace of the plan", "permutation recovered"]
    return pd.DataFrame(
        [[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 0.0, omega_p, 6.0, 1.0, 0.0, recovered]], columns=cols
    )


def _compression(gap: float) -> pd.DataFrame:
    rows = []
    for student in ("S", "M"):
        for method, base in (("none", 0.80), ("kd", 0.85), ("omega_p", 0.85 + gap)):
            for seed, noise in enumerate((0.0, 0.01, -0.005)):
                row = {"student": student, "method": method, "alpha": 1.0, "temperature": 4.0, "seed": seed}
                rows.append(row | {"val_acc": 0.9, "test_acc": base + noise})
    return pd.DataFrame(rows)


def test_scorecard_verdicts_follow_the_policy() -> None:
    config = ch.CHAPTER.configure("quick")
    transfer = _frame(
        {
            "none": [0.60, 0.70, 0.65],
            "l2sp": [0.62, 0.72, 0.67],  # +2 points on every seed
            "omega_i": [0.63, 0.74, 0.66],
            "omega_u": [0.70, 0.60, 0.80],
            "omega_p": [0.61, 0.73, 0.66],  # -1, +1, -1 against L2-SP
        }
    )
    steps = pd.DataFrame(
        {"network": ["mlp"] * 4, "regularizer": ["none", "l2sp", "omega_p exact", "omega_p proximal"]}
    ).assign(**{"× L2-SP": [0.5, 1.0, 1.5, 3.0]})
    card = ch.scorecard(_demo(), transfer, _compression(0.02), steps, config)
    verdict = card["verdict"]
    assert verdict["Table 1: L2-SP beats none in transfer"] == "reproduced"
    assert verdict["Table 1: Ω_P (OT, ours) beats L2-SP in transfer"] == "inconclusive"  # mean -1/3 point
    assert verdict["Table 2: Ω_P (OT, ours) beats KD for the S student"] == "reproduced"
    assert verdict["Fig. 2: neurons swap during L2-SP fine-tuning (penultimate-layer trace < 1)"] == "reproduced"
    assert all(v == "reproduced" for c, v in verdict.items() if c.startswith("§2"))
    assert verdict.filter(like="§4").tolist() == ["not tested"]
    assert card.filter(like="§4", axis=0)["why not tested"].tolist() == ["not the paper's scale"]
    d = 100 * (np.array([0.61, 0.73, 0.66]) - np.array([0.62, 0.72, 0.67]))
    low, high = stats.t.interval(0.95, 2, loc=d.mean(), scale=d.std(ddof=1) / np.sqrt(3))
    assert f"[{low:.2f}, {high:.2f}]" in card.loc["Table 1: Ω_P (OT, ours) beats L2-SP in transfer", "ours"]
    worse = ch.scorecard(_demo(omega_p=0.1, recovered=0.9), transfer, _compression(-0.02), steps, config)
    assert all(v == "contradicted" for c, v in worse["verdict"].items() if c.startswith("§2"))
    assert worse["verdict"]["Table 2: Ω_P (OT, ours) beats KD for the M student"] == "contradicted"
    # Ω_P against Ω_I needs a plan that left the identity: a seed whose Ω_P plan kept it does not count.
    kept = transfer.copy()
    kept.loc[(kept.method == "omega_p") & (kept.seed == 2), f"trace_{ch.LAYERS[-1]}"] = 0.99
    row = ch.scorecard(_demo(), kept, _compression(0.02), steps, config).loc[
        "Table 1: Ω_P (OT, ours) beats Ω_I (identity) in transfer"
    ]
    assert row["verdict"] == "not tested" and row["valid runs"] == "5 of 6"
    assert row["excluded runs (why)"] == "omega_p α=1 seed 2 (plan trace 0.99 >= 0.95)"
    assert row["why not tested"].startswith("1 of 6 runs invalid (required: the Ω_P plan leaves the identity")
    one_seed = ch.scorecard(_demo(), transfer[transfer.seed == 0], _compression(0.02), steps, config)
    assert one_seed["verdict"]["Table 1: L2-SP beats none in transfer"] == "not tested"


def _finetune(**fields) -> ch.Finetune:
    """A tiny fine-tuning run on the digits (3 shots, a source trained for one epoch)."""
    tiny = dict(dataset="digits", shots=3, pretrain_epochs=1, batch_size=5, l2sp_beta=0.01, device="cpu")
    return ch.Finetune(**(tiny | fields))


def test_finetune_tiny_run_records_traces() -> None:
    run = _finetune(method="omega_p", alpha=0.1, seed=0, epochs=2, lr=0.02)
    assert [r.name for r in run.requires()] == ["ot_transfer.reference"]
    out = run.run()
    assert 0.0 <= out.metrics["test_acc"] <= 1.0
    assert all(0.0 <= out.metrics[f"trace_{layer}"] <= 1.0 + 1e-9 for layer in ch.LAYERS)
    assert out.history.plan_trace.notna().sum() == 2  # one mean trace per epoch
    with pytest.raises(ValueError, match="method"):
        _finetune(method="l1", alpha=0.1, seed=0, epochs=1, lr=0.02)


def test_run_is_fit_over_the_five_parts() -> None:
    tuned = _finetune(method="omega_p", alpha=0.1, seed=0, epochs=2, lr=0.02, intermediate="body.3")
    student = ch.Compress(
        dataset="digits",
        student="S",
        method="omega_p",
        alpha=0.5,
        temperature=1.0,
        seed=1,
        teacher_epochs=1,
        epochs=1,
        device="cpu",
    )
    for run in (tuned, student):
        out = run.run()
        hand = by_hand(run)
        assert set(hand.recipe.options) == {"regularizer", "transform"} and len(hand.callbacks) == 1  # plan traces
        assert run.outcome(hand.parts, hand.result).metrics == out.metrics
        if out.history is not None:
            assert out.history.drop(columns="time_s").equals(hand.result.history.drop(columns="time_s"))
            assert hand.result.history.plan_trace.notna().sum() == run.epochs


def test_none_regularizer_is_plain_fine_tuning_and_kd_runs() -> None:
    plain = _finetune(method="none", alpha=0.0, seed=1, epochs=1, lr=0.02).run()
    again = _finetune(method="l2", alpha=0.0, seed=1, epochs=1, lr=0.02).run()  # L2 at strength 0
    assert plain.metrics == again.metrics
    kd = ch.Compress(
        dataset="digits",
        student="S",
        method="kd",
        alpha=0.5,
        temperature=4.0,
        seed=0,
        teacher_epochs=1,
        epochs=1,
        device="cpu",
    ).run()
    assert set(kd.metrics) == {"val_acc", "test_acc"} and kd.metrics["test_acc"] > 0.1


def test_cost_tables_from_a_tiny_timing_run() -> None:
    steps, solvers = ch.cost_tables(
        ch.Cost(networks=("mlp",), n=8, dims=(4, 16), prox_max_dim=4, repeats=1, device="cpu").cached()
    )
    assert steps.regularizer.tolist() == ["none", "l2sp", "omega_p exact", "omega_p proximal"]
    assert steps.loc[steps.regularizer == "l2sp", "× L2-SP"].item() == 1.0
    assert solvers[["d", "solver"]].values.tolist() == [[4, "exact"], [4, "proximal"], [16, "exact"]]
    assert abs(solvers["relative gap"]).max() < 1e-3


def _bench_record(device: str, exact_ms: dict[int, float], prox_ms: dict[int, float]) -> dict:
    """A criteria_step record with known times: OT proximal steps 3x, L2-SP steps 1.5x a CE step."""
    rounds = 4
    times = {"CE": [0.1] * rounds, "L2-SP": [0.15] * rounds, "OT proximal": [0.3, 0.3, 0.3, 0.33]}
    steps = {
        name: {"median_step_s": float(np.median(t)), "ratio_to_ce": float(np.median(t)) / 0.1, "ratio_ci95": None}
        for name, t in times.items()
    }
    steps["OT proximal"]["ipot_iterations"] = {"median": 70, "max": 90}
    rows = []
    for d in exact_ms:
        exact = [exact_ms[d] / 1e3 * f for f in (1.0, 1.1, 0.9)]
        prox = [prox_ms[d] / 1e3] * 3
        rows.append(
            {
                "d": d,
                "exact (POT emd)": {"median_s": float(np.median(exact)), "seconds": exact, "transport_cost": 2.0},
                "proximal (IPOT)": {
                    "median_s": prox[0],
                    "seconds": prox,
                    "transport_cost": 2.0002,
                    "iterations": d // 8,
                    "marginal_error": 5e-4,
                },
            }
        )
    return {
        "benchmark": "criteria_step",
        "steps": steps,
        "step_times_s": times,
        "solver_vs_d": rows,
        "threads": 2,
        "provenance": {"device": device},
    }


def test_benchmark_tables_summary_and_claims_from_known_records() -> None:
    exact = {64: 1.0, 512: 50.0, 2048: 1600.0}
    records = {
        "cpu": _bench_record("cpu (x86_64)", exact, {64: 10.0, 512: 40.0, 2048: 2000.0}),  # never faster at the end
        "cuda": _bench_record("GPU", exact, {64: 20.0, 512: 30.0, 2048: 30.0}),  # faster from 512 on
    }
    steps, solvers = ch.benchmark_tables(records)
    assert np.allclose(steps.loc[steps.criterion == "OT proximal", "× CE"], 3.0)
    assert steps["IPOT steps (median)"].dropna().tolist() == [70, 70]
    assert set(solvers.solver) == {"exact (POT emd)", "proximal (IPOT)"}
    assert np.allclose(solvers.loc[solvers.solver == "proximal (IPOT)", "cost / exact"], 1.0001)
    summary = ch.solver_summary(solvers)
    assert summary["IPOT faster from d ="].tolist() == ["not up to 2048", "512"]
    assert summary["IPOT steps"].tolist() == ["8-256", "8-256"]
    assert np.allclose(summary["largest cost / exact - 1"], 1e-4)
    card = report.scorecard(ch.benchmark_claims(records))
    step_claim = "§4: a step with Ω_P (IPOT) costs 2.7× one with L2-SP (ResNet-18, {})"
    lp_claim = "§4: the exact LP is slower than IPOT at d = 2048 ({}; LP time / IPOT time)"
    assert card.index.tolist() == [c.format(d) for d in ("cpu", "cuda") for c in (step_claim, lp_claim)]
    verdicts = ["not tested", "contradicted", "not tested", "reproduced"]
    assert card["verdict"].tolist() == verdicts
    ratio = np.array([0.3, 0.3, 0.3, 0.33]) / 0.15
    assert card["ours"].iloc[0].startswith(f"{ratio.mean():.2f}")
    assert all(w.startswith("benchmark; criteria_step on ") for w in card["profile, data, seeds"])
    with pytest.raises(ValueError, match="benchmark 'criteria_step', got 'fit_epoch'"):
        ch.benchmark_tables({"cpu": {"benchmark": "fit_epoch"}})
    with pytest.raises(ValueError, match="`records`"):
        ch.benchmark_tables({})
    with pytest.raises(ValueError, match="`solvers`"):
        ch.solver_summary(steps)


def test_real_profile_plans_a_cnn_transfer_with_a_large_validation_set() -> None:
    config = ch.CHAPTER.configure("real")
    assert config["dataset"] == config["compress.dataset"] == "cifar10_jpeg"
    assert len(config["seeds"]) >= 3
    tunes = [e for _, e in config.plan() if e.name == "ot_transfer.finetune"]
    assert {e.layers() for e in tunes} == {ch.CNN_LAYERS} and {e.intermediate for e in tunes} == {"conv2"}
    assert all(len(ch.TARGET) * e.shots >= 500 for e in tunes)  # as many validation images as shots
    assert {e.source().dataset for e in tunes} == {"cifar10_jpeg"}
    assert all("models.lenet5" in e.components() for e in tunes)
    teacher, student, slim = (ch.make_model(k, "cifar10_jpeg") for k in ("teacher", "M", "S"))
    assert type(teacher).__name__ == "ResNet" and teacher.feature_dim == student.feature_dim == 64
    assert type(student).__name__ == type(slim).__name__ == "LeNet5" and slim.feature_dim == 32
    assert ch.make_model("source", "cifar10_jpeg").head.out_features == 5
    with pytest.raises(ValueError, match="kind"):
        ch.make_model("L", "cifar10_jpeg")
    with pytest.raises(ValueError, match="intermediate"):
        _finetune(method="omega_p", alpha=0.1, seed=0, epochs=2, lr=0.02, intermediate="conv2")


def test_intermediate_term_adds_the_layer_plan_cost_and_leaves_no_hook() -> None:
    from c2f_utils import losses, models

    torch.manual_seed(0)
    model, reference = models.LeNet5(5, 3, 16), models.freeze(models.LeNet5(5, 3, 16))
    x = torch.rand(6, 3, 32, 32)
    reg = penalties.ReferenceRegularizer(losses.OTRegularizer("ot"), reference, 0.5, model, "conv2")
    out = model(x)
    value = reg(x, out)
    # Independent reference: the conv2 maps recomputed by hand, each channel averaged over its positions.
    maps = [
        torch.nn.functional.conv2d(
            torch.nn.functional.max_pool2d(torch.relu(net.conv1(x)), 2), net.conv2.weight, net.conv2.bias
        )
        for net in (model, reference)
    ]
    cost = [
        losses.neuron_cost(out.features, reference(x).features),
        losses.neuron_cost(*(m.mean((2, 3)) for m in maps)),
    ]
    import ot

    expected = sum(ot.emd2([], [], c.detach().numpy()) for c in cost)
    assert float(value.detach()) == pytest.approx(0.5 * expected, rel=1e-6)
    value.backward()
    assert model.conv1.weight.grad is not None and model.conv1.weight.grad.abs().sum() > 0
    assert reg.traces and 0.0 <= reg.traces[-1] <= 1.0  # the penultimate plan's trace (Figure 3)
    reg.close()
    assert all(not m._forward_hooks for net in (model, reference) for m in net.modules())
    with pytest.raises(ValueError, match="layer"):
        penalties.ReferenceRegularizer(losses.OTRegularizer("ot"), reference, 0.5, model, "conv9")


def test_finetune_with_an_intermediate_layer_differs_only_for_representation_regularizers() -> None:
    base = _finetune(method="omega_i", alpha=0.5, seed=0, epochs=2, lr=0.05)
    plain, inner = base.run(), base.replace(intermediate="body.3").run()
    assert (
        plain.metrics["test_acc"] != inner.metrics["test_acc"] or plain.metrics["val_acc"] != inner.metrics["val_acc"]
    )
    l2sp = base.replace(method="l2sp")
    assert l2sp.run().metrics == l2sp.replace(intermediate="body.3").run().metrics


def test_a_student_stuck_at_one_class_is_not_a_working_run() -> None:
    from types import SimpleNamespace

    (check,) = ch.COMPRESS_CHECKS
    stuck = SimpleNamespace(params={}, metrics={"val_acc": 0.1, "test_acc": 0.1}, history=None)
    trained = SimpleNamespace(params={}, metrics={"val_acc": 0.3, "test_acc": 0.3}, history=None)
    assert check.rule(stuck) is not None and check.rule(trained) is None
