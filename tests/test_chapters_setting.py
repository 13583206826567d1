"""The setting chapter's experiment code: scorecard verdicts and a tiny run."""

from __future__ import annotations

import pandas as pd
import pytest

from c2f_utils.chapters import setting


def _history(coarse: list[float], fine: list[float], init: float = 0.5) -> pd.DataFrame:
    rows = []
    for labeling, finals in (("coarse", coarse), ("fine", fine)):
        for seed, acc in enumerate(finals):
            rows.append(
                {
                    "epoch": 0,
                    "trained_on": labeling,
                    "seed": seed,
                    "fine_probe_acc": init,
                    "within_coarse_acc": init,
                    "test_acc": 0.5,
                }
            )
            rows.append(
                {
                    "epoch": 5,
                    "trained_on": labeling,
                    "seed": seed,
                    "fine_probe_acc": acc,
                    "within_coarse_acc": acc,
                    "test_acc": 0.9,
                }
            )
    return pd.DataFrame(rows)


RAW = {"fine_probe_acc": 0.99, "within_coarse_acc": 0.99}


def _verdict(card: pd.DataFrame, fragment: str) -> str:
    return card.loc[next(c for c in card.index if fragment in c), "verdict"]


def test_scorecard_separated_intervals_reproduce() -> None:
    card = setting.scorecard(_history([0.80, 0.81, 0.82], [0.95, 0.96, 0.97]), RAW)
    assert _verdict(card, "less fine information than fine training") == "reproduced"
    assert _verdict(card, "discards fine information") == "reproduced"
    assert _verdict(card, "adds fine information") == "reproduced"
    assert card.loc[card.index[0], "ours"] == "0.810 ± 0.025"


def test_scorecard_overlapping_and_reversed() -> None:
    overlap = setting.scorecard(_history([0.80, 0.90, 0.85], [0.84, 0.92, 0.88]), RAW)
    assert _verdict(overlap, "less fine information than fine") == "partly (intervals overlap)"
    reversed_ = setting.scorecard(_history([0.95, 0.96, 0.97], [0.80, 0.81, 0.82]), RAW)
    assert _verdict(reversed_, "less fine information than fine") == "not reproduced"
    below_init = setting.scorecard(_history([0.40, 0.41, 0.42], [0.8, 0.8, 0.8], init=0.5), RAW)
    assert _verdict(below_init, "adds fine information") == "not reproduced"


def test_scorecard_single_seed_says_so() -> None:
    card = setting.scorecard(_history([0.8], [0.9]), RAW)
    assert card.loc[card.index[0], "ours"] == "0.800"
    assert all("one seed" in v for v in card.verdict if v != "reproduced")


def test_train_and_probe_records_probe_columns() -> None:
    out = setting.train_and_probe("digits", "coarse", "lt5", 0, 2, 0.05, 64, 8, 2, 0, "cpu")
    hist = out.history
    assert hist.epoch.tolist() == [0, 1, 2]
    assert hist.fine_probe_acc.isna().tolist() == [False, True, False]  # probed every 2 epochs and at the end
    assert 0.1 < out.metrics["fine_probe_acc"] <= 1.0
    with pytest.raises(ValueError, match="labeling"):
        setting.train_and_probe("digits", "medium", "lt5", 0, 1, 0.05, 64, 8, 1, 0, "cpu")
