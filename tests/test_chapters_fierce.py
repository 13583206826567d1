"""The FIERCE chapter: declared experiments, criteria, tiny runs, the rise statistic and the scorecard."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from anatomy import by_hand
from torch import nn

from c2f_utils import data
from c2f_utils.chapters import fierce
from c2f_utils.experiments import TrainingRun
from c2f_utils.losses import FIERCELoss

BOOK = Path(__file__).resolve().parent.parent / "book"


def _quick(gid: str):
    return fierce.CHAPTER.configure("quick").runs(gid)[0]


def test_notebook_parameters_cell_names_the_derived_parameters() -> None:
    import jupytext

    nb = jupytext.read(fierce.CHAPTER.source_path(BOOK))
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    assert cells[0].source.splitlines() == ['profile = "quick"', "overrides = {}"]  # names: EXPERIMENT.FIELD
    assert {"age.folder", "unmix.lams", "unmix.lam", "fewshot.epochs"} <= set(fierce.CHAPTER.parameters)


def test_each_experiment_names_its_dataset_and_the_quick_profile_is_embedded() -> None:
    registered = set(data.available())
    params = fierce.CHAPTER.parameters
    for group, embedded in (("age", "synthetic_sizes"), ("unmix", "synthetic_unmixing"), ("fewshot", "digits")):
        # every choice is a registered dataset, but for the user's own folder and .mat file (c2f_utils.data.folders)
        assert set(params[f"{group}.dataset"].info.choices) - {"image_folder", "mat_file"} <= registered
        values = params[f"{group}.dataset"].values
        assert values["quick"] == embedded
        assert values["real"] in data.available("real") and values["paper"] in data.available("real")
    config = fierce.CHAPTER.configure("quick", **{"unmix.dataset": "samson"})
    assert {r.dataset for r in config.runs("unmix")} == {"samson"}
    assert {r.dataset for r in config.runs("age")} == {"synthetic_sizes"}
    with pytest.raises(ValueError, match=r"unmix\.dataset"):
        fierce.CHAPTER.configure("quick", **{"unmix.dataset": "cifar_fs"})
    with pytest.raises(ValueError, match=r"age\.tau"):
        fierce.CHAPTER.configure("quick", **{"age.tau": 0.0})


def test_sweeps_are_fierce_first_seed_and_follow_the_unmixing_overrides() -> None:
    config = fierce.CHAPTER.configure("quick", **{"unmix.epochs": 5, "unmix.lams": [0.5, 2.0]})
    for gid in ("lambdas", "anchor_counts", "variants"):
        runs = config.runs(gid)
        assert {(r.criterion, r.seed, r.epochs) for r in runs} == {("fierce", 0, 5)}
    assert [r.lam for r in config.runs("lambdas")] == [0.5, 2.0]
    assert [(r.similarity, r.anchor_kind) for r in config.runs("variants")] == [
        ("dot", "uniform"),
        ("dot", "sphere"),
        ("cosine", "uniform"),
        ("cosine", "sphere"),
    ]
    # The official variant is the unmixing grid's FIERCE run: planned once.
    plan = [exp.key() for _, exp in config.plan()]
    assert len(plan) == len(set(plan)) == 9 + 9 + 9 + 2 + 2 + 3


def test_build_criterion_kinds_and_seeded_anchors() -> None:
    run = _quick("unmix").replace(criterion="fierce")
    assert isinstance(run.replace(criterion="ce").criterion_of(), nn.CrossEntropyLoss)
    assert run.replace(criterion="ls").criterion_of().label_smoothing == 0.4
    crit = run.criterion_of()
    assert isinstance(crit, FIERCELoss) and crit.anchors.shape == (100, 100) and crit.lam == 1.0
    assert crit.similarity == "dot" and crit.unit == "bits"
    # CE runs are measured with the anchors a FIERCE run of the same seed draws.
    assert torch.equal(run.replace(criterion="ce").criterion_of("fierce").anchors, crit.anchors)
    assert not torch.equal(run.replace(seed=1).criterion_of().anchors, crit.anchors)
    age = _quick("age").replace(criterion="fierce").criterion_of()
    assert torch.equal(age.anchors[:, 0], torch.linspace(-1, 1, 50)) and age.tau == 0.02


def test_fewshot_split_is_base_and_novel_digits() -> None:
    base, novel = _quick("fewshot").load_data()
    full = data.load("digits", "all")
    assert torch.equal(base.x, full.x[full.fine < 5]) and torch.equal(novel.fine, full.fine[full.fine >= 5])
    assert set(base.fine.tolist()) == set(range(5)) and set(novel.fine.tolist()) == set(range(5, 10))


def test_tiny_runs_produce_finite_metrics() -> None:
    age = _quick("age").replace(criterion="fierce", epochs=2, probe_every=1, anchor_count=20, tau=0.05).run()
    assert {"mse_test_final", "mse_class_mean", "entropy_anchor"} <= set(age.metrics)
    assert math.isfinite(age.metrics["mse_test_final"]) and age.metrics["mse_test_final"] >= 0
    assert list(age.history.epoch) == [0, 1, 2] and "entropy_anchor" in age.history
    unmix = _quick("unmix").replace(criterion="ls", epochs=2, probe_every=1, anchor_count=20).run()
    assert all(math.isfinite(v) for v in unmix.metrics.values())
    assert unmix.arrays["test_probs"].shape[1] == 4
    assert np.allclose(unmix.arrays["test_probs"].sum(1), 1, atol=1e-5)
    fs = _quick("fewshot").replace(criterion="ce", epochs=1, anchor_count=20, episodes=50).run()
    assert 0.2 <= fs.metrics["acc_1shot"] <= 1 and fs.metrics["acc_5shot"] >= fs.metrics["acc_1shot"] - 0.05


def test_each_run_is_fit_over_its_five_parts() -> None:
    """Every experiment is a TrainingRun whose run is fit over its five public parts (the notebook's
    anatomy cells): the same history and metrics when the parts are called by hand."""
    runs = {
        "age": _quick("age").replace(criterion="fierce", epochs=2, probe_every=1, anchor_count=20),
        "unmix": _quick("unmix").replace(criterion="fierce", epochs=2, probe_every=2, anchor_count=20),
        "fewshot": _quick("fewshot").replace(criterion="ls", epochs=1, episodes=50),
    }
    for gid, run in runs.items():
        assert isinstance(run, TrainingRun), gid
        out = run.run()
        hand = by_hand(run)
        parts, by_hand_result = hand.parts, hand.result
        drop = {"columns": "time_s", "errors": "ignore"}
        assert out.history.drop(**drop).equals(by_hand_result.history.drop(**drop)), gid
        assert out.metrics == run.outcome(parts, by_hand_result).metrics, gid


def test_criterion_and_model_fields_name_the_parts_that_build_criterion_and_model_build() -> None:
    """The fields ``criterion`` and ``model`` hold the declared names (plain strings in the
    parameters and the key); ``build_criterion`` and ``build_model`` build those parts."""
    run = _quick("age").replace(criterion="ls")
    assert run.criterion == "ls" and run.model == "mlp" and run.params()["criterion"] == "ls"
    assert (
        pickle.loads(pickle.dumps(run)) == run
        and run.key() == run.replace(criterion="ce").replace(criterion="ls").key()
    )
    parts = run.data()
    assert run.build_criterion(parts).label_smoothing == 0.1
    assert isinstance(run.replace(criterion="fierce").build_criterion(parts), FIERCELoss)
    assert run.build_model(parts)(parts.train[0][:3]).features.shape == (3, 1)
    with pytest.raises(ValueError, match="criterion"):
        run.replace(criterion="mse")


def _history(curves: dict[str, list[list[float]]], epochs: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"criterion": c, "seed": s, "epoch": e, "mse_test": m}
            for c, per_seed in curves.items()
            for s, curve in enumerate(per_seed)
            for e, m in zip(epochs, curve, strict=True)
        ]
    )


def test_rise_uses_the_declared_epoch_and_can_be_negative() -> None:
    epochs = [0, 2, 4, 6, 20, 40]  # RISE_FROM * 40 = 4
    hist = _history({"ce": [[9, 5, 1, 3, 4, 6], [9, 5, 2, 1, 4, 1]]}, epochs)
    hist = pd.concat([hist, pd.DataFrame([{"criterion": "ce", "seed": 0, "epoch": 1, "mse_test": np.nan}])])
    metrics = pd.DataFrame({"criterion": ["ce", "ce"], "seed": [0, 1]})
    out = fierce.with_rise(metrics, hist).set_index("seed")
    assert (out.early_epoch == 4).all()
    assert out.loc[0, "rise"] == 5 and out.loc[1, "rise"] == -1  # last minus epoch 4, not minus the minimum


def _frame(metric: str, values: dict[str, list[float]], **extra: list[float]) -> pd.DataFrame:
    rows = [{"criterion": c, "seed": s, metric: v} for c, vs in values.items() for s, v in enumerate(vs)]
    return pd.DataFrame(rows).assign(**extra)


def test_scorecard_verdicts_follow_the_policy() -> None:
    config = fierce.CHAPTER.configure("quick")
    age = _frame("mse_test_final", {"ce": [3.0, 3.1, 2.9], "ls": [3.5, 3.6, 3.4], "fierce": [1.0, 1.1, 0.9]})
    age = age.assign(
        entropy_anchor=[1.0, 1.1, 0.9, 0.8, 0.7, 0.9, 2.0, 2.1, 1.9],
        mse_early=[1.0, 1.0, 1.0, 1, 1, 1, 1.0, 1.0, 1.0],
        mse_last=[2.0, 2.5, 1.8, 1, 1, 1, 1.0, 1.1, 0.95],
        early_epoch=4,
    )
    age["rise"] = age.mse_last - age.mse_early
    unmix = _frame(
        "transfer_mse_test",
        {"ce": [0.2, 0.21, 0.19], "ls": [0.1, 0.11, 0.09], "fierce": [0.01, 0.02, 0.015]},
        raw_mse_test=[0.2, 0.21, 0.19, 0.05, 0.06, 0.055, 0.3, 0.31, 0.29],
        entropy_anchor=[1.0, 1.2, 0.9, 2.0, 2.1, 1.8, 3.0, 3.2, 3.1],
    )
    unmix["entropy_knn"] = unmix.entropy_anchor * 2 + [0.1, -0.1, 0.05, 0.0, 0.1, -0.05, 0.02, 0.0, -0.1]
    unmix["transfer_mse_train_min"] = unmix.transfer_mse_test * 0.5
    unmix["raw_mse_train_min"] = unmix.raw_mse_test[[3, 4, 5, 0, 1, 2, 6, 7, 8]].to_numpy()  # LS and CE swapped
    unmix["r_entropy_transfer"] = [-0.9, -0.8, -0.95, -0.7, -0.9, -0.85, -0.6, -0.9, -0.8]
    unmix["r_anchor_knn"] = [0.1, -0.2, 0.3, -0.1, 0.2, 0.0, -0.3, 0.1, 0.05]
    fewshot = _frame("acc_1shot", {"ce": [0.5, 0.51, 0.49], "ls": [0.6, 0.61, 0.59], "fierce": [0.55, 0.56, 0.54]})
    card = fierce.scorecard(age, unmix, fewshot, config)
    verdict = card["verdict"]
    assert verdict["Fig. 1: FIERCE ends with a lower fine MSE than CE"] == "reproduced"
    rise = next(c for c in card.index if "rises after epoch 4" in c)
    assert verdict[rise] == "reproduced"
    assert verdict["Fig. 1: FIERCE keeps its MSE (no early stopping needed): smaller rise than CE"] == "reproduced"
    assert verdict["Fig. 1, §5.1: more feature entropy, lower fine MSE (across trained runs)"] == "reproduced"
    held, paper = "(held-out blocks, last epoch)", "(paper's protocol: min over epochs, training pixels)"
    assert verdict[f"Table 1: FIERCE transfer MSE < LS {held}"] == "reproduced"
    assert verdict[f"Table 1: FIERCE transfer MSE < LS {paper}"] == "reproduced"
    assert verdict[f"Table 1: LS raw MSE < CE raw MSE {held}"] == "reproduced"
    assert verdict[f"Table 1: LS raw MSE < CE raw MSE {paper}"] == "contradicted"  # the two protocols read apart
    assert verdict[f"Table 1: FIERCE raw MSE < CE raw MSE {held}"] == "contradicted"
    assert verdict[next(c for c in card.index if c.startswith("App. A.4") and "across" in c)] == "reproduced"
    within = [c for c in card.index if "within each run" in c]
    assert [verdict[c] for c in within] == ["reproduced", "inconclusive"]  # r over epochs < 0; r > 0 not shown
    assert card.loc[within[0], "profile, data, seeds"].startswith("quick; synthetic_unmixing; seeds 0-2")
    assert verdict["Table 2: FIERCE 1-shot accuracy > CE"] == "reproduced"
    assert verdict["Table 2: FIERCE 1-shot accuracy > LS"] == "contradicted"
    assert verdict["Table 2: FIERCE's 1-shot accuracy on CIFAR-FS"] == "not tested"
    assert card.loc["Table 2: FIERCE's 1-shot accuracy on CIFAR-FS", "why not tested"] == "not the paper's scale"
    assert card["profile, data, seeds"].str.startswith("quick; ").all()
    # A CE curve that keeps falling fails the rise claim: the statistic can fail.
    falling = age.assign(mse_last=[0.5, 0.6, 0.4, 1, 1, 1, 1.0, 1.1, 0.95])
    card = fierce.scorecard(falling.assign(rise=falling.mse_last - falling.mse_early), unmix, fewshot, config)
    assert card.loc[rise, "verdict"] == "contradicted"
    # One seed is never enough.
    one = fierce.scorecard(*(f[f.seed == 0] for f in (age, unmix, fewshot)), config)
    assert set(one.verdict) == {"not tested"}


def test_benchmark_table_reads_result_files(tmp_path: Path) -> None:
    record = {
        "median_step_s": {"ce": 0.1, "fierce": 0.105},
        "overhead_ratio": 1.05,
        "batch": [64, 3, 32, 32],
        "steps": 5,
        "provenance": {"device": "cpu (test)", "git_commit": "0123456789ab", "finished_at": "now"},
    }
    (tmp_path / "fierce_step_cpu.json").write_text(json.dumps(record))
    table = fierce.benchmark_table(tmp_path)
    assert table.loc[0, "FIERCE / CE"] == 1.05 and table.loc[0, "commit"] == "01234567"
    assert fierce.benchmark_table(tmp_path / "none").empty


def test_a_run_s_numbers_do_not_depend_on_how_often_it_is_probed() -> None:
    """The transfer probe trains a head (and seeds torch) inside the training's callbacks; FIERCE
    draws its Gumbel noise from its own generator: probing every epoch or only at the end gives
    bit-identical final metrics (issue 25)."""
    base = next(r for r in fierce.CHAPTER.configure("quick").runs("unmix") if r.criterion == "fierce")
    base = base.replace(epochs=3)
    every = base.replace(probe_every=1).run()
    at_end = base.replace(probe_every=3).run()
    assert every.metrics["transfer_mse_test"] == at_end.metrics["transfer_mse_test"]
    for key in ("raw_mse_test", "test_acc", "entropy_anchor", "entropy_knn", "ece", "output_mi"):
        assert every.metrics[key] == at_end.metrics[key], key
    assert len(every.history.dropna(subset=["raw_mse_test"])) == 4 > len(at_end.history.dropna(subset=["raw_mse_test"]))


def test_fierce_noise_comes_from_its_generator_and_leaves_torch_s_alone() -> None:
    logits, features = torch.randn(8, 3), torch.randn(8, 5)
    target = torch.arange(8) % 3

    def loss_value() -> float:
        loss = FIERCELoss(5, n_anchors=6, lam=1.0, generator=torch.Generator().manual_seed(4))
        return float(loss(logits, features, target))

    torch.manual_seed(0)
    state = torch.get_rng_state()
    first = loss_value()
    assert torch.equal(torch.get_rng_state(), state)  # nothing drawn from the global generator
    torch.manual_seed(123)
    assert loss_value() == first  # the global state does not matter either


def test_epoch_correlations_are_taken_within_each_run_after_initialisation() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for criterion, seed in (("ce", 0), ("fierce", 0), ("ce", 1)):
        for epoch in (0, 10, 20, 30, 40):
            rows.append({"criterion": criterion, "seed": seed, "epoch": epoch, "entropy_anchor": rng.normal(),
                         "entropy_knn": rng.normal(), "transfer_mse_test": rng.normal()})  # fmt: skip
    history = pd.DataFrame(rows)
    metrics = pd.DataFrame({"criterion": ["ce", "fierce", "ce"], "seed": [0, 0, 1]})
    out = fierce.with_epoch_correlations(metrics, history).set_index(["criterion", "seed"])
    for (criterion, seed), run in history[history.epoch > 0].groupby(["criterion", "seed"]):
        for column, (x, y) in fierce.EPOCH_PAIRS.items():
            expected = np.corrcoef(run[x], run[y])[0, 1]
            assert out.loc[(criterion, seed), column] == pytest.approx(expected)


def test_unmixing_runs_are_valid_only_above_their_majority_with_spread_features() -> None:
    def run(acc: float, spread: float) -> SimpleNamespace:
        metrics = {"train_acc": acc, "train_majority": 0.4, "feature_spread": spread, "entropy_anchor": 1.0}
        return SimpleNamespace(params={"criterion": "ce", "seed": 0}, metrics=metrics, history=None, arrays={})

    checked = fierce.validity([run(0.9, 1.0), run(0.42, 1.0), run(0.9, 0.0)], "unmix")
    assert [bool(f) for f in checked.failures] == [False, True, True]


def test_the_unmixing_grid_has_its_own_seeds() -> None:
    config = fierce.CHAPTER.configure("real")  # five seeds each since the real profiles' 5-seed update
    assert config["unmix.seeds"] == [0, 1, 2, 3, 4] and config["seeds"] == [0, 1, 2, 3, 4]
    assert {r.seed for r in config.runs("unmix")} == {0, 1, 2, 3, 4}
    assert {r.seed for r in config.runs("lambdas")} == {0}
    config = fierce.CHAPTER.configure("real", **{"unmix.seeds": [5, 6]})
    assert {r.seed for r in config.runs("unmix")} == {5, 6}
    assert {r.seed for r in config.runs("age")} == {0, 1, 2, 3, 4}


def test_age_inputs_are_standardised_with_the_training_split_only() -> None:
    run = _quick("age").replace(standardize=True)
    train, test = run.load_data()
    x_train, x_test = run.inputs(train, test)
    ref_train, ref_test = train.x.double().numpy(), test.x.double().numpy()
    mean = ref_train.mean(axis=(0, 2, 3), keepdims=True)
    std = ref_train.std(axis=(0, 2, 3), keepdims=True, ddof=1)
    assert np.allclose(x_train.numpy(), (ref_train - mean) / std, atol=1e-4)
    assert np.allclose(x_test.numpy(), (ref_test - mean) / std, atol=1e-4)  # the training split's statistics
    raw_train, raw_test = run.replace(standardize=False).inputs(train, test)
    assert raw_train is train.x and raw_test is test.x


def test_age_cnn_has_a_one_d_feature_through_a_learnable_affine_map() -> None:
    run = _quick("age").replace(model="cnn", standardize=True)
    net = run.network_for((1, 16, 16))
    out = net(torch.randn(5, 1, 16, 16))
    assert out.logits.shape == (5, 2) and out.features.shape == (5, 1)
    with torch.no_grad():
        net.scale.fill_(3.0)
        net.shift.fill_(-2.0)
    net.eval()
    x = torch.randn(4, 1, 16, 16)
    pooled = net.stages(net.stem(x)).mean(dim=(2, 3)).mean(dim=1, keepdim=True)
    assert torch.allclose(net(x).features, 3.0 * pooled - 2.0, atol=1e-5)
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert "models.resnet" in run.components() and "models.mlp" not in run.components()


def test_real_age_recipe_spaces_anchors_one_unit_apart_at_the_official_temperature() -> None:
    crit = fierce.CHAPTER.configure("real").runs("age")[0].replace(criterion="fierce").criterion_of()
    gaps = crit.anchors[1:, 0] - crit.anchors[:-1, 0]
    assert torch.allclose(gaps, torch.ones_like(gaps)) and crit.tau == 1.0


def test_fewshot_warm_up_raises_the_learning_rate_then_steps_after_it() -> None:
    run = _quick("fewshot").replace(criterion="ce", epochs=5, warmup_epochs=2, anchor_count=20, episodes=20)
    lrs = run.run().history.dropna(subset=["lr"]).set_index("epoch").lr
    lr = run.lr
    # warm-up (e + 1) / (w + 1), then milestones at 1/3 and 2/3 of the 3 epochs after it: epochs 3 and 4
    assert np.allclose(lrs.loc[[1, 2, 3, 4, 5]].to_numpy(), [lr / 3, 2 * lr / 3, lr, 0.1 * lr, 0.01 * lr])


class _Run:
    def __init__(self, criterion: str, train_acc: float, test_acc: float, feature: np.ndarray) -> None:
        self.params = {"criterion": criterion, "seed": 0, "dataset": "utkface"}
        self.metrics = {"test_acc": test_acc}
        self.history = pd.DataFrame({"epoch": [0, 1], "train_acc": [np.nan, train_acc]})
        self.arrays = {"test_feature": feature}


def test_age_validity_needs_training_and_test_accuracy_and_a_spread_feature() -> None:
    spread = np.linspace(-3, 3, 50)
    runs = [
        _Run("ce", 0.9, 0.85, spread),
        _Run("ls", 0.9, 0.55, spread),  # above the majority on training faces only
        _Run("fierce", 0.51, 0.5, spread),  # the majority class
        _Run("ce", 0.9, 0.85, np.full(50, 2.0)),  # a constant feature
    ]
    checked = fierce.validity(runs, "age")
    assert [not failed for failed in checked.failures] == [True, False, False, False]
    assert "test acc" in checked.failures[1][0][1] and "constant" in checked.failures[3][0][1]


class _Config:
    """The part of a Config the report functions read: runs per grid and values."""

    profile = "real"

    def __init__(self, runs: dict[str, list[_Run]]) -> None:
        self.runs = runs

    def results(self, gid: str) -> list[_Run]:
        return self.runs[gid]

    def __getitem__(self, name: str):
        return {"seeds": (0, 1), "age.dataset": "utkface"}[name]


def test_report_functions_read_every_age_and_fewshot_run_with_its_checks() -> None:
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    runs = []
    for seed, crit in ((0, "ce"), (0, "fierce"), (1, "ce"), (1, "fierce")):
        run = _Run(crit, 0.9 if seed == 0 else 0.5, 0.8, rng.normal(size=40))
        run.params["seed"] = seed
        run.arrays["test_target"] = rng.uniform(1, 90, 40)
        run.history = pd.DataFrame(
            {"epoch": [0, 3, 6], "train_acc": [np.nan, 0.7, run.history.train_acc.iloc[-1]],
             "mse_test": [900.0, 500.0, 450.0], "entropy_anchor": [0.1, 1.5, 2.0], "test_acc": [0.5, 0.7, 0.8]}
        )  # fmt: skip
        runs.append(run)
    fewshot = [_Run("ls", 0.3, 0.0, np.zeros(1)), _Run("ce", 0.6, 0.0, np.zeros(1))]
    config = _Config({"age": runs, "fewshot": fewshot})
    checks = fierce.results_checks(config, "age")
    assert list(checks.failed == "") == [True, True, False, False]  # seed 1 stays at the majority class
    assert np.allclose(checks.feature_std, [np.std(r.arrays["test_feature"]) for r in runs])
    fs = fierce.results_checks(config, "fewshot")
    assert list(fs.failed == "") == [False, True] and "test_acc" not in fs  # 0.30 is below 0.21 + 0.10
    fig = fierce.results_age_features(config)
    assert [ax.get_title() for ax in fig.axes] == ["ce", "fierce"]  # the first seed only
    curves = fierce.results_curves(config, "age")
    titles = [title for title, _ in fierce.CURVES["age"].values()]
    assert [ax.get_title() for ax in curves.axes if ax.get_title()] == titles
    with pytest.raises(ValueError, match="gid"):
        fierce.results_checks(config, "unmix")
