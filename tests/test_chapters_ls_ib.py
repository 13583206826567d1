"""The ls_ib chapter: its parameters, tiny runs, and scorecard verdicts that can fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from anatomy import by_hand

from c2f_utils.chapters import ls_ib
from c2f_utils.probes import info_plane, ls_info_plane

BOOK = Path(__file__).resolve().parent.parent / "book"
H = float(np.log(10))
CONFIG = ls_ib.CHAPTER.configure("quick")
RECIPE = {"optimizer": "adam", "batch_size": 128, "augment": False, "device": "cpu", "network": "default"}


def test_notebook_parameters_cell_declares_exactly_the_chapter_parameters() -> None:
    import jupytext

    nb = jupytext.read(ls_ib.CHAPTER.source_path(BOOK))
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    assert cells[0].source.splitlines() == ['profile = "quick"', "overrides = {}"]  # names: EXPERIMENT.FIELD


def test_quick_profile_keeps_the_legacy_values_and_plans_no_saliency_run() -> None:
    values = CONFIG.values
    assert values["seeds"] == [0, 1, 2] and values["plane.alphas"] == [round(0.1 * i, 1) for i in range(10)]
    assert values["plane.betas"] == [0.5, 2.0] and values["nuisance.alphas"] == [0.0, 0.8]
    recipe = (
        values["plane.epochs"],
        values["plane.lr"],
        values["optimizer"],
        values["ib.steps"],
        values["plane.n_train"],
    )
    assert recipe == (30, 0.005, "adam", 100, 0)
    assert values["nuisance.epochs"] == values["saliency.epochs"] == 30
    planned = [gid for gid, _ in CONFIG.plan()]
    assert "saliency" not in planned and planned.count("ib") == 1  # the deterministic solver runs once
    on = ls_ib.CHAPTER.configure("quick", **{"saliency.alphas": [0.0, 0.1]})
    assert [(r.alpha, r.seed) for r in on.runs("saliency")] == [(a, s) for a in (0.0, 0.1) for s in (0, 1, 2)]
    with pytest.raises(ValueError, match="seeds"):
        ls_ib.CHAPTER.configure("quick", seeds=[])
    assert ls_ib.CHAPTER.profiles["paper"]["saliency"].runs()  # the paper profile runs Figures 7-8


def test_plane_trains_ls_towards_its_optimum_and_rejects_two_criteria() -> None:
    run = ls_ib.Plane(dataset="digits", alpha=0.5, beta=0.0, n_train=0, seed=0, epochs=20, lr=0.01, **RECIPE)
    m = run.run().metrics
    assert m["n_train"] == len(ls_ib.experiments._load("digits", "train"))
    assert m["train_i_ty"] <= m["train_i_xt"] + 1e-9
    assert m["train_i_xt"] == pytest.approx(m["train_ls_optimum"], abs=0.1)
    assert m["train_h_y"] == pytest.approx(H, abs=0.01)
    with pytest.raises(ValueError, match="alpha"):
        ls_ib.Plane(dataset="digits", alpha=0.5, beta=1.0, n_train=0, seed=0, epochs=1, lr=0.01, **RECIPE)
    with pytest.raises(ValueError, match="alpha"):
        ls_ib.Plane(dataset="digits", alpha=1.5, beta=0.0, n_train=0, seed=0, epochs=1, lr=0.01, **RECIPE)
    with pytest.raises(ValueError, match="n_train"):
        ls_ib.Plane(dataset="digits", alpha=0.5, beta=0.0, n_train=-1, seed=0, epochs=1, lr=0.01, **RECIPE)


@pytest.mark.parametrize("strengths", [{"alpha": 0.3, "beta": 0.0}, {"alpha": 0.0, "beta": 2.0}])
def test_plane_run_is_fit_over_its_five_parts(strengths: dict[str, float]) -> None:
    # The anatomy cells call these parts: what they train is what the cached run trains.
    from c2f_utils import losses

    run = ls_ib.Plane(dataset="digits", **strengths, n_train=300, seed=1, epochs=2, lr=0.01, **RECIPE)
    out = run.run().metrics
    hand = by_hand(run)
    criterion = hand.criterion
    assert run.outcome(hand.parts, hand.result).metrics == out
    assert isinstance(criterion, losses.ConfidencePenalty) == (run.loss == "cp") == bool(run.beta)
    assert hand.recipe.options == {} and hand.callbacks == [] and hand.recipe.config.weight_decay == 0.0
    assert run.gradcam_layer(hand.result.model) is None  # an MLP: no Grad-CAM layer


def test_plane_on_a_subset_fits_it_and_measures_its_plane() -> None:
    # A subset small enough to fit (Assumption 4.3): its plane, its size, and a fit the check accepts.
    run = ls_ib.Plane(dataset="digits", alpha=0.2, beta=0.0, n_train=200, seed=0, epochs=60, lr=0.005, **RECIPE)
    m = run.run().metrics
    subset = ls_ib.training_subset(ls_ib.experiments._load("digits", "train"), 200)
    assert m["n_train"] == 200
    share = np.bincount(subset.fine.numpy(), minlength=10) / 200
    assert m["train_h_y"] == pytest.approx(-(share * np.log(share)).sum(), abs=1e-9)  # the subset's H(Y)
    assert m["train_acc"] >= ls_ib.PROPOSITION_TRAIN_ACC
    assert m["train_i_xt"] == pytest.approx(m["train_ls_optimum"], abs=0.1)


def test_training_subset_is_stratified_fixed_and_complete_at_zero() -> None:
    full = ls_ib.experiments._load("digits", "train")
    part = ls_ib.training_subset(full, 300)
    assert len(part) == 300
    counts = np.bincount(part.fine.numpy(), minlength=10)
    expected = 300 * np.bincount(full.fine.numpy(), minlength=10) / len(full)
    assert np.abs(counts - expected).max() <= 1  # stratified on the label
    again = ls_ib.training_subset(full, 300)
    assert np.array_equal(part.x.numpy(), again.x.numpy())  # the same subset for every run
    rows = {bytes(r.numpy().tobytes()) for r in full.x}
    assert all(bytes(r.numpy().tobytes()) in rows for r in part.x)
    assert ls_ib.training_subset(full, 0) is full and ls_ib.training_subset(full, 10**6) is full
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="n"):
            ls_ib.training_subset(full, bad)


def test_ib_curve_is_deterministic_and_respects_the_dpi(tmp_path, monkeypatch) -> None:
    run = ls_ib.IBCurve(dataset="annotator_counts", betas=(0.5, 0.0), steps=30, seed=0, device="cpu")
    out, again = run.run(), run.run()
    a = out.arrays
    assert a["beta"].tolist() == [0.0, 0.5]  # solved in increasing order
    for k in a:
        np.testing.assert_array_equal(a[k], again.arrays[k])  # one run is one replicate
    assert (a["i_ty"] <= a["i_xt"] + 1e-9).all() and (a["i_ty"] <= out.metrics["i_xy"] + 1e-9).all()
    assert a["ls_i_xt"][0] == pytest.approx(out.metrics["i_xy"], abs=1e-9)  # LS at alpha 0: the soft labels
    other = ls_ib.IBCurve(dataset="annotator_counts", betas=(0.5, 0.0), steps=30, seed=1, device="cpu").run().arrays
    assert np.abs(other["i_ty"] - a["i_ty"]).max() < 1e-2  # another start lands close, not on the same bits
    monkeypatch.setenv("C2F_DATA_DIR", str(tmp_path))
    assert ls_ib.resolve_counts_dataset("auto") == "annotator_counts"
    assert ls_ib.resolve_counts_dataset("cifar10h") == "cifar10h"
    solver = {"betas": (0.5,), "steps": 30, "seed": 0, "device": "cpu"}
    assert ls_ib.IBCurve(dataset="auto", **solver).key() == ls_ib.IBCurve(dataset="annotator_counts", **solver).key()


@pytest.mark.realdata
def test_auto_picks_the_real_cifar10h_counts(shared_data, monkeypatch) -> None:
    monkeypatch.setenv("C2F_DATA_DIR", str(shared_data))
    assert ls_ib.resolve_counts_dataset("auto") == "cifar10h"
    assert ls_ib.IBCurve(dataset="auto", betas=(0.5,), steps=1, seed=0, device="cpu").params()["dataset"] == "cifar10h"


@pytest.mark.slow
def test_saliency_run_measures_the_share_in_the_box() -> None:
    run = ls_ib.Saliency(dataset="cluttered_digits", alpha=0.1, n_show=4, seed=0, epochs=1, lr=0.005, **RECIPE)
    out = run.run()
    assert 0 <= out.metrics["box_mass"] <= 1 and 0 < out.metrics["box_area"] < 1
    assert out.arrays["maps"].shape == (4, 32, 32) and len(set(out.arrays["show"])) == 4


# --------------------------------------------------------------------------- scorecard on synthetic runs


def _plane(gap: float, ce_offset: float = 0.0, seeds: int = 3) -> pd.DataFrame:
    """LS runs on 10 balanced classes: points ``gap`` below the line, CE ``ce_offset`` short of H(Y)."""
    rows = []
    for seed in range(seeds):
        for a in (0.0, 0.5):
            opt = ls_info_plane(a, np.full(10, 10)).i_xt
            x = opt - (ce_offset if a == 0 else 0.0) - 0.001 * seed
            row = {"train_i_xt": x, "train_i_ty": x - gap, "train_ls_optimum": opt, "train_h_y": H}
            rows.append({"loss": "ls", "strength": a, "seed": seed, **row})
    return pd.DataFrame(rows)


def _ib(gains: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"beta": np.linspace(0.5, 0.9, len(gains)), "gain_over_ls": gains})


def _nuisance(probe_hi: float, acc_ce: list[float], acc_ls: list[float], mid_acc: float | None = None) -> pd.DataFrame:
    rows = []
    for seed, (ce, ls) in enumerate(zip(acc_ce, acc_ls, strict=True)):
        rows.append({"alpha": 0.0, "seed": seed, "target_acc": ce, "nuisance_probe_acc": 0.5 + 0.01 * seed})
        rows.append({"alpha": 0.8, "seed": seed, "target_acc": ls, "nuisance_probe_acc": probe_hi + 0.01 * seed})
        if mid_acc is not None:
            rows.append({"alpha": 0.4, "seed": seed, "target_acc": ce + mid_acc, "nuisance_probe_acc": 0.5})
    return pd.DataFrame(rows)


def _verdict(card: pd.DataFrame, fragment: str) -> str:
    return card.loc[next(c for c in card.index if fragment in c), "verdict"]


def _card(plane, ib, nuisance, saliency=None, config=CONFIG) -> pd.DataFrame:
    return ls_ib.scorecard(plane, ib, nuisance, pd.DataFrame() if saliency is None else saliency, config)


SAME = [0.80, 0.90, 0.85]  # accuracies that vary across seeds far more than the margin


def test_scorecard_reproduces_what_the_runs_show() -> None:
    card = _card(_plane(0.0), _ib([0.05, 0.02]), _nuisance(0.2, SAME, [a + 0.002 for a in SAME]))
    for fragment in ("reaches (H(Y), H(Y))", "IB line", "LS optimum's I(X;T)", "beat the LS optimum", "nuisance"):
        assert _verdict(card, fragment) == "reproduced", fragment
    # Paired by seed: the seed-to-seed spread (±5 points) cancels, the 0.2-point shift is inside ±1 point.
    assert _verdict(card, "no accuracy gain") == "reproduced"
    assert _verdict(card, "Grad-CAM") == "not tested"
    assert "deterministic" in card.loc[next(c for c in card.index if "beat the LS" in c), "test"]


def test_scorecard_fails_what_the_runs_contradict() -> None:
    card = _card(_plane(0.2, ce_offset=0.3), _ib([0.0005, -0.01]), _nuisance(0.6, SAME, [a + 0.03 for a in SAME]))
    for fragment in ("reaches (H(Y), H(Y))", "IB line", "beat the LS optimum", "nuisance", "no accuracy gain"):
        assert _verdict(card, fragment) == "contradicted", fragment
    assert _verdict(_card(_plane(0.0), _ib([np.nan]), _nuisance(0.2, SAME, SAME)), "beat the LS") == "not tested"


def test_accuracy_claim_compares_the_declared_alpha_not_the_best_one() -> None:
    # alpha = 0.4 matches CE exactly, alpha = 0.8 (the declared one, the largest) gains 3 points.
    config = ls_ib.CHAPTER.configure("quick", **{"nuisance.alphas": [0.0, 0.4, 0.8]})
    nuisance = _nuisance(0.2, SAME, [a + 0.03 for a in SAME], mid_acc=0.0)
    card = _card(_plane(0.0), _ib([0.05]), nuisance, config=config)
    assert _verdict(card, "no accuracy gain") == "contradicted"
    assert "α=0.8" in next(c for c in card.index if "no accuracy gain" in c)


def test_one_seed_is_never_reproduced() -> None:
    one = ls_ib.CHAPTER.configure("quick", seeds=[0])
    card = _card(_plane(0.0, seeds=1), _ib([0.05]), _nuisance(0.2, [0.9], [0.9]), config=one)
    assert _verdict(card, "IB line") == "not tested" and _verdict(card, "no accuracy gain") == "not tested"
    assert _verdict(card, "beat the LS optimum") == "reproduced"  # deterministic: checked once, exactly


def test_saliency_claims_when_figures_7_8_ran() -> None:
    config = ls_ib.CHAPTER.configure("quick", **{"saliency.alphas": [0.0, 0.1]})
    rows = []
    for seed in range(3):
        for alpha, share in ((0.0, 0.3), (0.1, 0.5)):
            masses = {f"box_mass_{c}": share + (-0.2 if c == 1 else 0.01 * seed) for c in range(10)}
            rows.append({"alpha": alpha, "seed": seed, "box_mass": share + 0.01 * seed, "test_acc": 0.9, **masses})
    card = _card(_plane(0.0), _ib([0.05]), _nuisance(0.2, SAME, SAME), pd.DataFrame(rows), config)
    assert _verdict(card, "Grad-CAM") == "reproduced"
    assert _verdict(card, "same accuracy on cluttered") == "reproduced"
    assert _verdict(card, "CE: the saliency of digit 1") == "reproduced"


def test_plane_frame_labels_ls_and_cp_runs() -> None:
    class Result:
        def __init__(self, alpha: float, beta: float) -> None:
            self.params, self.metrics = {"alpha": alpha, "beta": beta, "seed": 0}, {"train_i_xt": 1.0}

    frame = ls_ib.plane_frame([Result(0.3, 0.0), Result(0.0, 2.0)])
    assert frame.loss.tolist() == ["ls", "cp"] and frame.strength.tolist() == [0.3, 2.0]


def test_plane_point_of_the_ls_optimum_is_the_closed_form() -> None:
    # The scorecard's "LS optimum" column is the point of q_{alpha, y}: the two implementations agree.
    y = np.repeat(np.arange(10), 7)
    q = 0.7 * np.eye(10)[y] + 0.03
    assert info_plane(q, y) == pytest.approx(tuple(ls_info_plane(0.3, np.bincount(y))), abs=1e-12)


def test_lenet_network_for_the_real_profile() -> None:
    import torch

    model, layer = ls_ib.make_model("cifar10", (3, 32, 32), 10, "lenet")
    assert layer is model.conv2 and model.conv1.in_channels == 3
    for name in ("cluttered_mnist", "cluttered_mnist10k"):
        cluttered = ls_ib.make_model(name, (1, 60, 60), 10, "lenet")[0]
        assert cluttered.conv1.in_channels == 1
        assert cluttered(torch.zeros(2, 1, 60, 60)).logits.shape == (2, 10)  # the 60x60 canvas
    assert ls_ib.make_model("occluded_cifar10_jpeg", (3, 32, 32), 10, "lenet")[0].conv1.in_channels == 3
    with pytest.raises(ValueError, match="network='lenet'"):
        ls_ib.make_model("digits", (1, 8, 8), 10, "lenet")
    with pytest.raises(ValueError, match="network"):
        ls_ib.make_model("cifar10", (3, 32, 32), 10, "vgg")
    real = ls_ib.CHAPTER.configure("real")
    for group in ("plane", "plane_cp", "nuisance", "saliency"):
        assert {r.network for r in real.runs(group)} == {"lenet"}, group


def test_real_profile_runs_on_real_data_and_fits_a_subset() -> None:
    real = ls_ib.CHAPTER.configure("real")
    plane = real.runs("plane") + real.runs("plane_cp")
    assert {(r.dataset, r.n_train) for r in plane} == {("cifar10_jpeg", 200)}
    assert len({(r.epochs, r.batch_size, r.lr, r.optimizer) for r in plane}) == 1  # one recipe for every α, β
    assert {r.dataset for r in real.runs("nuisance")} == {"occluded_cifar10_jpeg"}
    assert {r.dataset for r in real.runs("saliency")} == {"cluttered_mnist10k"}
    assert sorted({r.alpha for r in real.runs("saliency")}) == [0.0, 0.1]  # the paper's α of Figures 7-8
    assert len(real.values["seeds"]) >= 3
