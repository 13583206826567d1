"""The committed verdicts re-derived from the run records, independently of the report layer.

The record files (``record.json``, ``history.csv``, ``arrays.npz``) are read with json, pandas
and NumPy; the chapter's declared validity rules are applied by hand; the paired intervals
come from SciPy; the four words from their definition. The book's scorecard must agree,
whatever the records hold (a new recording changes the numbers, not this test).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from c2f_utils import chapters, evidence, report
from c2f_utils.chapters import fierce, lls, ot_transfer, setting

ROOT = evidence.results_dir()


def _records(chapter: str, experiment: str) -> list[dict]:
    folder = ROOT / chapter / "real" / "runs" / experiment
    if not folder.is_dir():
        pytest.skip(f"{chapter} real profile not recorded")
    out = []
    for run in sorted(folder.iterdir()):
        record = json.loads((run / "record.json").read_text())
        history = pd.read_csv(run / "history.csv") if (run / "history.csv").is_file() else None
        arrays = dict(np.load(run / "arrays.npz")) if (run / "arrays.npz").is_file() else {}
        out.append({**record["params"], **record["metrics"], "_history": history, "_arrays": arrays})
    return out


def _word(d: np.ndarray, sign: int) -> str:
    """The policy's word for "sign * mean(d) > 0" from SciPy's one-sample t interval."""
    if len(d) < 3:
        return "not tested"
    if np.ptp(d) == 0:
        low = high = sign * d[0]
    else:
        low, high = sorted(sign * np.asarray(stats.ttest_1samp(d, 0).confidence_interval(0.95)))
    return "reproduced" if low > 0 else "contradicted" if high < 0 else "inconclusive"


def _last_train_acc(r: dict) -> float:
    return float(r["_history"]["train_acc"].dropna().iloc[-1])


def _paired(valid: list[dict], metric: str, a: str, b: str) -> np.ndarray:
    by = {(r["criterion"], r["seed"]): r[metric] for r in valid}
    seeds = sorted({s for c, s in by if c == a} & {s for c, s in by if c == b})
    return np.array([by[(a, s)] - by[(b, s)] for s in seeds])


def test_fierce_verdicts_follow_from_the_records_and_the_declared_checks() -> None:
    age = _records("fierce", "fierce.age")
    unmix = [r for r in _records("fierce", "fierce.unmixing") if r["lam"] == 1.0 and r["anchor_count"] == 100]
    unmix = [r for r in unmix if r["similarity"] == "dot" and r["anchor_kind"] == "uniform"]
    fewshot = _records("fierce", "fierce.fewshot")
    valid = {
        "age": [r for r in age if _last_train_acc(r) >= 0.52 + 0.05 and r["_arrays"]["test_feature"].std() > 1e-4],
        "unmix": [
            r
            for r in unmix
            if r["train_acc"] >= r["train_majority"] + 0.05
            and r["feature_spread"] >= 1e-3
            and r["entropy_anchor"] >= 1e-6
        ],
        "fewshot": [r for r in fewshot if _last_train_acc(r) >= 0.21 + 0.05],
    }
    card = fierce.card(evidence.committed(fierce.CHAPTER, "real"))
    claims = {
        "Fig. 1: FIERCE ends with a lower fine MSE than CE": ("age", "mse_test_final", "fierce", "ce", -1),
        "Fig. 1: FIERCE ends with a lower fine MSE than LS": ("age", "mse_test_final", "fierce", "ls", -1),
        **{
            f"Table 1: {claim} ({protocol})": ("unmix", f"{metric}{suffix}", a, b, -1)
            for protocol, suffix in (
                ("held-out blocks, last epoch", "_test"),
                ("paper's protocol: min over epochs, training pixels", "_train_min"),
            )
            for claim, metric, a, b in (
                ("FIERCE transfer MSE < CE", "transfer_mse", "fierce", "ce"),
                ("FIERCE transfer MSE < LS", "transfer_mse", "fierce", "ls"),
                ("LS raw MSE < CE raw MSE", "raw_mse", "ls", "ce"),
                ("FIERCE raw MSE < CE raw MSE", "raw_mse", "fierce", "ce"),
            )
        },
        "Table 2: FIERCE 1-shot accuracy > CE": ("fewshot", "acc_1shot", "fierce", "ce", 1),
        "Table 2: FIERCE 1-shot accuracy > LS": ("fewshot", "acc_1shot", "fierce", "ls", 1),
    }
    for claim, (group, metric, a, b, sign) in claims.items():
        d = _paired(valid[group], metric, a, b)
        assert card.loc[claim, "verdict"] == _word(d, sign), claim
        involved = [r for r in {"age": age, "unmix": unmix, "fewshot": fewshot}[group] if r["criterion"] in (a, b)]
        n_valid = sum(r["criterion"] in (a, b) for r in valid[group])
        assert card.loc[claim, "valid runs"] == f"{n_valid} of {len(involved)}", claim
        if n_valid < len(involved):
            assert card.loc[claim, "excluded runs (why)"] != "none"


def test_setting_verdicts_follow_from_the_records() -> None:
    runs = _records("setting", "setting.train_and_probe")
    valid = [r for r in runs if _last_train_acc(r) >= setting.MAJORITY[r["labeling"]] + 0.05]
    final = {(r["labeling"], r["seed"]): r["fine_probe_acc"] for r in valid}
    seeds = sorted({s for lab, s in final if lab == "coarse"} & {s for lab, s in final if lab == "fine"})
    d = np.array([final[("coarse", s)] - final[("fine", s)] for s in seeds])
    card = setting.card(evidence.committed(setting.CHAPTER, "real"))
    assert card.loc["coarse training keeps less fine information than fine training", "verdict"] == _word(d, -1)


def test_lls_verdicts_follow_from_the_records_and_the_declared_checks() -> None:
    """Tables 3, 4, 6-8: each run counts when its last training accuracy beats the majority
    class (0.11, 0.21 on the five-class subset) by 0.05; "A beats B" on the paired test
    accuracies of the seeds both kept."""

    def valid(runs: list[dict], majority: float = 0.11) -> list[dict]:
        return [r for r in runs if _last_train_acc(r) >= majority + 0.05]

    def paired(runs: list[dict], a: str, b: str) -> np.ndarray:
        by = {(r["method"], r["seed"]): r["test_acc"] for r in runs}
        seeds = sorted({s for m, s in by if m == a} & {s for m, s in by if m == b})
        return np.array([by[(a, s)] - by[(b, s)] for s in seeds])

    trains = _records("lls", "lls.train")
    main_seeds = set(lls.CHAPTER.configure("real")["seeds"])
    main = valid([r for r in trains if r["alpha"] == 0.1 and r["method"] in lls.METHODS and r["seed"] in main_seeds])
    ablation_seeds = set(lls.CHAPTER.configure("real")["ablation.seeds"])
    ablation = valid([r for r in trains if r["alpha"] == 0.1 and r["seed"] in ablation_seeds])
    subsets = _records("lls", "lls.subset")
    variants = [r for r in _records("lls", "lls.variant") if r["augmentation"] != "standard"]
    card = lls.card(evidence.committed(lls.CHAPTER, "real"))
    claims = {f"LLS beats {base} (Tables 1-3)": (main, "LLS", base) for base in lls.METHODS[:-1]}
    for row in ("No RCE", "No Pred EM", "No Targets EM", "FCE only", "Symmetric CE", "Forward KL"):
        claims[f"full LLS beats '{row}' (Table 4)"] = (ablation, "LLS", row)
    for subset, table, pairs in (
        ("samples", "Table 6", (("LLS-ST", "1-hot"), ("LLS-ST", "LS"), ("LLS-ST", "LLS"))),
        ("classes", "Table 7", (("LLS", "1-hot"), ("LLS", "LS"), ("LLS-ST", "1-hot"))),
    ):
        kept = valid([r for r in subsets if r["subset"] == subset], 0.21 if subset == "classes" else 0.11)
        for a, b in pairs:
            claims[f"{a} beats {b} on half the {subset} ({table})"] = (kept, a, b)
    for aug in ("cutout", "mixup", "cutmix", "randaugment"):
        kept = valid([r for r in variants if r["augmentation"] == aug])
        claims[f"LLS adds to {aug}: {aug} + LLS beats {aug} alone (Table 8)"] = (kept, "LLS", "1-hot")
    for claim, (runs, a, b) in claims.items():
        assert card.loc[claim, "verdict"] == _word(paired(runs, a, b), 1), claim


def test_ot_transfer_verdicts_follow_from_the_records_and_the_declared_checks() -> None:
    """Tables 1-2: a run counts when it trains (Table 1: last training accuracy above 1/5 + 0.05;
    Table 2: validation accuracy above 0.1 + 0.05 and test accuracy below the teacher's); each
    method's strength (and temperature) is the one of best mean validation accuracy over its
    valid runs; "A beats B" on the paired test accuracies of the selected runs."""
    teacher = next(r for r in _records("ot_transfer", "ot_transfer.reference") if r["role"] == "teacher")
    tuned = [r for r in _records("ot_transfer", "ot_transfer.finetune") if _last_train_acc(r) >= 0.2 + 0.05]
    students = [
        r
        for r in _records("ot_transfer", "ot_transfer.compress")
        if r["val_acc"] >= 0.1 + 0.05 and r["test_acc"] < teacher["test_acc"]
    ]

    def selected(runs: list[dict], method: str, hyper: tuple[str, ...]) -> dict[int, float]:
        mine = [r for r in runs if r["method"] == method]
        settings = {tuple(r[h] for h in hyper) for r in mine}
        best = max(settings, key=lambda v: np.mean([r["val_acc"] for r in mine if tuple(r[h] for h in hyper) == v]))
        return {r["seed"]: r["test_acc"] for r in mine if tuple(r[h] for h in hyper) == best}

    card = ot_transfer.card(evidence.committed(ot_transfer.CHAPTER, "real"))
    claims = {
        "Table 1: L2-SP beats none in transfer": (tuned, "l2sp", "none", ("alpha",)),
        "Table 1: Ω_P (OT, ours) beats L2-SP in transfer": (tuned, "omega_p", "l2sp", ("alpha",)),
        "Table 1: Ω_P (OT, ours) beats Ω_U (uniform) in transfer": (tuned, "omega_p", "omega_u", ("alpha",)),
    }
    for student in ("S", "M"):
        mine = [r for r in students if r["student"] == student]
        for a, b in (("omega_p", "kd"), ("kd", "none")):
            name = f"Table 2: {ot_transfer.LABELS[a]} beats {ot_transfer.LABELS[b]} for the {student} student"
            claims[name] = (mine, a, b, ("alpha", "temperature"))
    for claim, (runs, a, b, hyper) in claims.items():
        left, right = selected(runs, a, hyper), selected(runs, b, hyper)
        d = np.array([left[s] - right[s] for s in sorted(set(left) & set(right))])
        assert card.loc[claim, "verdict"] == _word(d, 1), claim


def test_every_committed_scorecard_uses_the_four_words_and_explains_not_tested(monkeypatch) -> None:
    from c2f_utils.chapters import ot_transfer

    monkeypatch.setattr(ot_transfer.verdicts, "permutation_demo", lambda config: "needs data absent here: (test)")
    cards, notes = chapters.collect_cards()
    assert notes and set(cards) >= {"setting", "fierce", "ls_ib", "lls", "ot_transfer", "synthesis"}
    for per_profile in cards.values():
        for card in per_profile.values():
            assert set(card.verdict) <= set(report.VERDICTS)
            untested = card[card.verdict == "not tested"]
            assert (untested["why not tested"].str.len() > 0).all()
            assert (card.loc[card.verdict != "not tested", "why not tested"] == "").all()
    holds = report.what_holds(cards)
    listed = set(holds.index.get_level_values("claim"))
    assert all(set(card.index) <= listed for per in cards.values() for card in per.values())


@pytest.mark.parametrize("bad", ["setting", ["__nope__"], 3])
def test_collect_cards_refuses_what_is_not_a_list_of_chapters(bad) -> None:
    with pytest.raises(ValueError, match="chapters"):
        chapters.collect_cards(bad)
