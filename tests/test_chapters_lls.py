"""The LLS chapter: criteria, experiments (tiny runs), the teacher-student plan, tables and verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from anatomy import by_hand
from torch import nn

from c2f_utils.chapters import lls
from c2f_utils.data import load
from c2f_utils.losses import LLS_ABLATIONS, LLSLoss, OnlineLabelSmoothing, TFKDReg
from c2f_utils.runs import RunResult

TINY = lls.CHAPTER.configure("quick", epochs=2, seeds=[0], tsne_samples=100)


def test_make_criterion_covers_every_method_and_ablation_row() -> None:
    assert isinstance(lls.make_criterion("OLS", 10, 0.1, 0.0)[0], OnlineLabelSmoothing)
    assert lls.make_criterion("OLS", 10, 0.1, 0.0)[1]  # the per-epoch callback
    assert isinstance(lls.make_criterion("TF-KD_reg", 10, 0.1, 0.0)[0], TFKDReg)
    assert lls.make_criterion("LS", 10, 0.3, 0.0)[0].label_smoothing == 0.3
    for row, terms in LLS_ABLATIONS.items():
        crit = lls.make_criterion(row, 10, 0.1, 5e-4)[0]
        assert isinstance(crit, LLSLoss) and crit.terms == terms and crit.q_weight_decay == 5e-4
    with pytest.raises(ValueError, match="method"):
        lls.make_criterion("mixup", 10, 0.1, 0.0)
    with pytest.raises(ValueError, match="model"):
        lls.make_model("vgg", 10, (3, 32, 32))


def test_model_outputs_features_for_every_name() -> None:
    grey, colour = (1, 8, 8), (3, 32, 32)
    for name, shape in [("mlp", grey), ("mlp_small", grey), ("lenet", colour), ("resnet20", colour)]:
        net = lls.make_model(name, 10, shape)
        out = net(torch.rand(2, *shape))
        assert out.logits.shape == (2, 10) and isinstance(net, nn.Module)


def test_fields_are_validated_before_anything_runs() -> None:
    base = TINY.runs("main")[0]
    with pytest.raises(ValueError, match="method"):
        base.replace(method="mixup")
    with pytest.raises(ValueError, match="alpha"):
        base.replace(alpha=1.5)
    with pytest.raises(ValueError, match="kind"):
        lls.Distill(teacher=base, student="mlp_small", kind="KD OLS", seed=0)
    with pytest.raises(TypeError, match="teacher"):
        lls.Distill(teacher="LLS", student="mlp_small", kind="KD LLS", seed=0)
    with pytest.raises(ValueError, match="epochs"):
        lls.CHAPTER.configure("quick", epochs=0)


def test_parameters_are_the_legacy_names_but_trio() -> None:
    legacy = {"dataset", "model", "student", "seeds", "device", "epochs", "warmup_epochs", "schedule", "milestones"}
    legacy |= {"lr", "batch_size", "weight_decay", "alpha", "alphas", "tsne_samples", "overhead.epochs"}
    appendix = {"fig8.dataset", "fig8.model", "table8.augmentations", "subset.grad_clip"}
    appendix |= {f"{grid}.seeds" for grid in ("ablation", "distill", "subset", "table8")}
    assert set(lls.CHAPTER.parameters) == legacy | appendix
    paper = lls.CHAPTER.configure("paper")
    assert paper["milestones"] == [140, 215] and paper["seeds"] == [0, 1, 2, 3, 4] and paper["student"] == "resnet20"


def test_notebook_parameters_cell_names_the_chapter_parameters() -> None:
    import jupytext

    nb = jupytext.read(lls.CHAPTER.source_path("book"))
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    assert cells[0].source.splitlines() == ['profile = "quick"', "overrides = {}"]  # names: EXPERIMENT.FIELD


def test_student_runs_read_their_teacher_and_are_planned_after_it() -> None:
    config = lls.CHAPTER.configure("quick", epochs=3, seeds=[4, 5], **{"distill.seeds": [4, 5]})
    students = config.runs("distill")
    by_kind = {(s.kind, s.seed): s for s in students}
    assert by_kind[("KD LS", 5)].teacher == config.grid("main").base.replace(method="LS", seed=5)
    assert by_kind[("LLS-ST", 4)].teacher.method == "LLS" and by_kind[("LLS-ST", 4)].teacher.epochs == 3
    assert by_kind[("alone", 4)].requires() == [] and by_kind[("KD LLS", 4)].requires() == [
        by_kind[("KD LLS", 4)].teacher
    ]
    # the student's key depends on its teacher's parameters
    student = by_kind[("KD LLS", 4)]
    assert student.key() != student.replace(teacher=student.teacher.replace(lr=0.1)).key()
    # a grid of students alone still plans each teacher first
    order = [exp for _, exp in lls.CHAPTER.configure("quick").plan()]
    keys = [e.key() for e in order]
    for exp in order:
        for dep in exp.requires():
            assert keys.index(dep.key()) < keys.index(exp.key())


def test_keys_follow_the_declared_components() -> None:
    distill = next(r for r in TINY.runs("distill") if r.requires())
    assert {"losses.distill", "losses.smoothing", "train"} <= set(distill.components())
    assert "losses.fierce" not in distill.components()
    assert set(distill.teacher.components()) <= set(distill.components())


def test_train_run_is_fit_over_its_five_parts() -> None:
    """A Train run is exactly fit over its public parts (OLS: the criterion's moving targets are its probe)."""

    run = next(r for r in TINY.runs("main") if r.method == "OLS").replace(epochs=2)
    assert isinstance(run, lls.Train) and run.model == "mlp" and run.params()["model"] == "mlp"
    out = run.run()
    hand = by_hand(run)
    parts = hand.parts
    assert hand.callbacks == [hand.criterion.on_epoch_end]
    by_hand_out = run.outcome(parts, hand.result)
    assert out.history.drop(columns="time_s").equals(by_hand_out.history.drop(columns="time_s"))
    assert out.metrics == by_hand_out.metrics
    np.testing.assert_array_equal(out.arrays["soft_confusion"], by_hand_out.arrays["soft_confusion"])
    # a mixed criterion (Mixup) keeps the callbacks of the criterion it mixes; LLS learns Q by gradient
    mixed = run.data("mixup")
    assert run.probes(mixed, run.build_criterion(mixed)) == [mixed.criterion.on_epoch_end]
    lls_run = run.replace(method="LLS")
    assert lls_run.probes(parts, lls_run.build_criterion(parts)) == [] and isinstance(parts.criterion, LLSLoss)


def test_tiny_runs_store_what_the_chapter_reads() -> None:
    run = next(r for r in TINY.runs("main") if r.method == "LLS")
    out = run.run()
    arrays = out.arrays
    assert arrays["q_logits"].shape == (10, 10) and arrays["confusion"].shape == (10, 10)
    np.testing.assert_allclose(arrays["confusion"].sum(1), 1.0)
    np.testing.assert_allclose(arrays["soft_confusion"].sum(1), 1.0, rtol=1e-5)
    assert arrays["centres"].shape == (10, 32) and len(arrays["test_features"]) == 100
    assert any(k.startswith("state/") for k in arrays) and 0 <= out.metrics["test_acc"] <= 1
    students = {s.kind: s for s in TINY.runs("distill")}
    for kind in ("LLS-ST", "KD LLS", "alone"):
        assert 0 <= students[kind].run().metrics["test_acc"] <= 1
    # the KD student saw its teacher: a different result from the student alone (same seed and batches)
    kd, alone = students["KD LLS"].cached(), students["alone"].cached()
    assert not kd.history.train_loss.equals(alone.history.train_loss)


def test_overhead_run_counts_the_q_parameters() -> None:
    overhead = lls.Overhead(
        dataset="digits", model="mlp", alpha=0.1, lr=0.1, batch_size=512, device="cpu", epochs=1, seed=0
    )
    m = overhead.run().metrics
    assert m["params_LLS"] - m["params_LS"] == 100
    assert m["epoch_s_LS"] > 0 and m["epoch_s_LLS"] > 0
    table = lls.overhead_table(RunResult("x", {}, m, None, {}, {}, None, True))
    assert table.loc["LLS", "parameters"] == table.loc["LS", "parameters"] + 100


def _result(method: str, seed: int, acc: float, kind: str | None = None) -> RunResult:
    params = {"method": method, "seed": seed} if kind is None else {"kind": kind, "seed": seed}
    return RunResult("lls.train", params, {"test_acc": acc}, None, {}, {}, None, True)


def test_tables_use_paired_differences() -> None:
    accs = {"LLS": [0.90, 0.80, 0.85], "No FCE": [0.89, 0.79, 0.84]}  # unpaired intervals would overlap
    results = [_result(m, s, a) for m, values in accs.items() for s, a in enumerate(values)]
    table = lls.ablation_table(results)
    assert table.loc["No FCE", "minus LLS (pp)"] == "-1.00 ± 0.00"
    assert table.loc["LLS", "fce"] == "✓" and table.loc["No FCE", "fce"] == "✗"
    assert table.loc["LLS", "test accuracy (%)"] == "85.00 ± 12.42"  # mean ± t(0.975, 2) * 5 / sqrt(3)
    assert table.loc["LLS", "std"] == pytest.approx(5.0)


def test_geometry_summary_trio_ratio_against_a_hand_computation() -> None:
    centres = {
        "1-hot": np.eye(3) + 0.1,
        "LS": np.eye(3),
        "LLS": np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0, 0, 1]]),
    }
    results = [
        RunResult("lls.train", {"method": m, "seed": 0}, {"silhouette": 0.5}, None, {"centres": c}, {}, None, True)
        for m, c in centres.items()
    ]
    summary = lls.geometry_summary(results, ("a", "b", "c"), ["a", "b", "c"]).set_index("method")
    assert summary.loc["LS", "trio_ratio"] == pytest.approx(1.0) and summary.loc["LS", "equidistance_cv"] == 0
    d_ab, d_ac = 1 - 1.0 / 1.25, 1.0  # cosine distances of (1, .5, 0), (.5, 1, 0) and (0, 0, 1)
    pair = d_ab / (d_ab + d_ac)  # rows of a and b, L1-normalised
    third = (2 * d_ac / (d_ab + d_ac) + 2 * 0.5) / 4  # c is equally far from a and b
    assert summary.loc["LLS", "trio_ratio"] == pytest.approx(pair / third)


def _config_frame(card: pd.DataFrame, fragment: str) -> pd.Series:
    return card.loc[next(c for c in card.index if fragment in c)]


def test_scorecard_verdicts_come_from_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = [0, 1, 2]
    base = {"1-hot": 0.90, "LS": 0.91, "OLS": 0.91, "TF-KD_reg": 0.92, "LLS": 0.95}
    main = [_result(m, s, a + 0.001 * s) for m, a in base.items() for s in seeds]
    rows = [r for r in LLS_ABLATIONS if r != "LLS"]
    ablation = main + [_result(r, s, 0.5 if r in ("No FCE", "Reverse KL") else 0.94) for r in rows for s in seeds]
    kinds = {"alone": 0.80, "KD 1-hot": 0.81, "KD LS": 0.82, "KD LLS": 0.82, "LLS-ST": 0.79}
    distill = [_result("", s, a + 0.01 * (s == 1), kind=k) for k, a in kinds.items() for s in seeds]
    overhead = RunResult("o", {}, {"params_LS": 10, "params_LLS": 110, "epoch_s_LS": 1.0, "epoch_s_LLS": 1.1},
                         None, {}, {}, None, True)  # fmt: skip
    grids = {"main": main, "ablation": ablation, "distill": distill, "overhead": [overhead]}
    grids |= {"subset": [], "fig8": [], "table8": []}
    config = lls.CHAPTER.configure("quick")
    monkeypatch.setattr(type(config), "results", lambda self, gid, progress=False: grids[gid])
    agreement = pd.DataFrame({"spearman_confusion": [0.3, 0.2, 0.4], "spearman_soft_confusion": [0.1, -0.05, 0.2]})
    methods = ["1-hot", "LS", "LLS"]
    geometry = pd.DataFrame(
        [(m, s, {"1-hot": 0.5, "LS": 0.3, "LLS": 0.4}[m], 0.0, 1.0, 0.1) for m in methods for s in seeds],
        columns=["method", "seed", "equidistance_cv", "spearman_vs_1hot", "trio_ratio", "silhouette"],
    )
    card = lls.scorecard(config, agreement, geometry)
    assert _config_frame(card, "LLS beats 1-hot").verdict == "reproduced"  # +5 pp in every seed
    assert _config_frame(card, "'No FCE' fails").verdict == "reproduced"  # 45 pp > the declared 5
    assert _config_frame(card, "'No Pred EM'").verdict == "reproduced"
    assert _config_frame(card, "test confusion").verdict == "reproduced"
    assert _config_frame(card, "soft confusion").verdict == "inconclusive"  # mean > 0, interval includes 0
    assert _config_frame(card, "LLS teacher beats an LS").verdict == "inconclusive"  # zero difference
    assert _config_frame(card, "LLS-ST helps").verdict == "contradicted"  # 1 point worse in every seed
    assert _config_frame(card, "equidistant").verdict == "reproduced"
    assert _config_frame(card, "costs little time").verdict == "not tested"
    assert _config_frame(card, "costs little time")["why not tested"] == "not the paper's scale"
    # What a working run is, from the records: a student as good as its teacher is no distillation
    # evidence, and a run that never leaves the majority class does not count.
    history = pd.DataFrame({"epoch": [1, 2], "train_acc": [0.5, 0.9]})
    for r in main + ablation:
        r.history = (
            history.assign(train_acc=[0.1, 0.1]) if (r.params["method"], r.params["seed"]) == ("LS", 2) else history
        )
    distill[3 * 2].metrics["test_acc"] = 0.99  # KD LS, seed 0: better than its LS teacher (0.91)
    checked = lls.validity(config)
    assert checked["main"].excluded == [("LS seed 2", "train acc 0.1 < 0.16")]
    assert dict(checked["distill"].excluded) == {
        "KD LS seed 0": "teacher acc 0.91 <= student acc 0.99",
        "KD LS seed 2": "teacher LS seed 2 invalid or missing",
    }
    card = lls.scorecard(config, agreement, geometry, checked)
    row = _config_frame(card, "LLS teacher beats an LS")
    assert row.verdict == "not tested" and row["valid runs"] == "4 of 6"
    assert (
        row["why not tested"]
        == "2 of 6 runs invalid (required: teacher better than its student); 1 valid seed, fewer than 3"
    )
    one_seed = lls.CHAPTER.configure("quick", seeds=[0])
    grids_one = {g: [r for r in rs if r.params.get("seed", 0) == 0] for g, rs in grids.items()}
    monkeypatch.setattr(type(one_seed), "results", lambda self, gid, progress=False: grids_one[gid])
    card = lls.scorecard(one_seed, agreement.iloc[:1], geometry[geometry.seed == 0])
    assert _config_frame(card, "LLS beats 1-hot").verdict == "not tested"


def test_q_summary_reads_the_first_lls_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Range and most related class of softmax(q_logits), against a hand-built Q."""
    logits = np.zeros((10, 10))
    logits[np.arange(10), (np.arange(10) + 1) % 10] = 2.0  # class i relates most to class i+1
    logits[np.arange(10), np.arange(10)] = -3.0
    first = RunResult("lls.train", {"method": "LLS", "seed": 4}, {}, None, {"q_logits": logits}, {}, None, True)
    other = RunResult("lls.train", {"method": "1-hot", "seed": 0}, {}, None, {}, {}, None, True)
    config = lls.CHAPTER.configure("quick")
    monkeypatch.setattr(type(config), "results", lambda self, gid, progress=False: [other, first])
    summary = lls.q_summary(config)
    q = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert summary["seed"] == 4
    assert summary["off-diagonal range"] == f"[{q[0, 2]:.3f}, {q[0, 1]:.3f}]"
    assert summary["diagonal range"] == f"[{q[0, 0]:.3f}, {q[0, 0]:.3f}]" and summary["uniform 1/K"] == "0.100"
    related = summary["most related class"]
    assert related.startswith("0 -> 1, 1 -> 2") and related.endswith("9 -> 0")


def test_subset_runs_keep_half_and_reuse_the_teachers_q_on_its_classes() -> None:
    config = lls.CHAPTER.configure("quick", epochs=2, seeds=[0], **{"subset.seeds": [0]}, tsne_samples=100)
    runs = {(r.subset, r.method): r for r in config.runs("subset")}
    teacher = config.grid("main").base.replace(method="LLS", seed=0)
    assert runs[("classes", "LLS-ST")].requires() == [teacher] and runs[("samples", "1-hot")].requires() == []
    out = runs[("classes", "LLS-ST")].run()
    full = len(load("digits", "train"))
    assert 0 < out.metrics["n_train"] < full and 0 <= out.metrics["test_acc"] <= 1
    samples = runs[("samples", "LS")].run()
    assert samples.metrics["n_train"] == full // 2 and "train_acc" in samples.history
    # the criterion of LLS-ST on five classes is the teacher's Q restricted to them
    q = torch.as_tensor(teacher.cached().arrays["q_logits"])
    target, _ = runs[("classes", "LLS-ST")].build_criterion(5)
    torch.testing.assert_close(target.q_logits, q[:5, :5].float())
    (_, y), (_, test_y), k = runs[("classes", "1-hot")].data()
    assert k == 5 and int(y.max()) == 4 and int(test_y.max()) == 4


def test_variants_train_the_main_recipe_elsewhere_or_with_an_augmentation() -> None:
    config = lls.CHAPTER.configure("quick", epochs=2, seeds=[0], **{"table8.seeds": [0]}, tsne_samples=100)
    mixup = next(v for v in config.runs("table8") if v.augmentation == "mixup" and v.method == "LLS")
    assert mixup.train() == config.grid("main").base.replace(method="LLS", seed=0)
    assert "augment" in mixup.components()
    out = mixup.run()
    assert out.arrays["q_logits"].shape == (10, 10) and 0 <= out.metrics["test_acc"] <= 1
    fig8 = lls.CHAPTER.configure("real").runs("fig8")[0]
    assert fig8.train().dataset == "mnist10k" and "data.mnist10k" in fig8.components()
    with pytest.raises(ValueError, match="augmentation"):
        mixup.replace(augmentation="mosaic")
