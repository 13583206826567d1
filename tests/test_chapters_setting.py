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


def _card(coarse: list[float], fine: list[float], init: float = 0.5) -> pd.DataFrame:
    config = setting.CHAPTER.configure("quick", seeds=list(range(len(coarse))))
    return setting.scorecard(_history(coarse, fine, init), RAW, config)


def _verdict(card: pd.DataFrame, fragment: str) -> str:
    return card.loc[next(c for c in card.index if fragment in c), "verdict"]


def test_scorecard_paired_differences_reproduce() -> None:
    card = _card([0.80, 0.81, 0.82], [0.95, 0.96, 0.97])
    assert _verdict(card, "less fine information than fine training") == "reproduced"
    assert _verdict(card, "discards fine information") == "reproduced"
    assert _verdict(card, "adds fine information") == "reproduced"
    assert card.loc[card.index[0], "ours"].startswith("0.810 ± 0.025 (n=3) vs 0.1")
    assert card.loc[card.index[0], "profile, data, seeds"] == "quick; digits; seeds 0-2"


def test_scorecard_pairs_by_seed() -> None:
    # Unpaired, these intervals overlap; every seed's fine-trained network is ahead by 0.04.
    paired = _card([0.80, 0.90, 0.85], [0.84, 0.94, 0.89])
    assert _verdict(paired, "less fine information than fine") == "reproduced"
    noisy = _card([0.80, 0.90, 0.85], [0.90, 0.80, 0.89])
    assert _verdict(noisy, "less fine information than fine") == "inconclusive"
    reversed_ = _card([0.95, 0.96, 0.97], [0.80, 0.81, 0.82])
    assert _verdict(reversed_, "less fine information than fine") == "contradicted"
    below_init = _card([0.40, 0.41, 0.42], [0.8, 0.8, 0.8], init=0.5)
    assert _verdict(below_init, "adds fine information") == "contradicted"


def test_scorecard_never_reproduces_from_too_few_seeds() -> None:
    card = _card([0.8, 0.81], [0.9, 0.91])
    assert set(card.verdict) == {"not tested"}


def test_summary_table_rows() -> None:
    table = setting.summary_table(_history([0.80, 0.81, 0.82], [0.95, 0.96, 0.97]), RAW)
    assert table.loc["network trained on coarse labels, after training", "fine probe accuracy"] == "0.810 ± 0.025"
    assert table.loc["raw pixels (deterministic probe)", "seeds"] == 1


def test_train_and_probe_records_probe_columns() -> None:
    run = setting.TrainAndProbe(
        dataset="digits",
        labeling="coarse",
        coarsening="lt5",
        seed=0,
        epochs=2,
        lr=0.05,
        batch_size=64,
        feature_dim=8,
        probe_every=2,
        probe_max_train=0,
        device="cpu",
    )
    out = run.run()
    hist = out.history
    assert hist.epoch.tolist() == [0, 1, 2]
    assert hist.fine_probe_acc.isna().tolist() == [False, True, False]  # probed every 2 epochs and at the end
    assert 0.1 < out.metrics["fine_probe_acc"] <= 1.0
    with pytest.raises(ValueError, match="labeling"):
        run.replace(labeling="medium")


def test_raw_input_probe_matches_scikit_learn_on_the_pixels() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from c2f_utils import data

    train, test = data.load("digits", "train"), data.load("digits", "test")
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    reference.fit(train.x.flatten(1).numpy(), train.fine.numpy())
    expected = reference.score(test.x.flatten(1).numpy(), test.fine.numpy())
    got = setting.RawInputProbe(dataset="digits", coarsening="lt5", probe_max_train=0).run()["fine_probe_acc"]
    assert got == pytest.approx(expected, abs=0.01)


def test_a_runs_source_files_cover_its_whole_chapter_package() -> None:
    run = setting.CHAPTER.configure("quick").runs("train")[0]
    names = {p.relative_to(p.parents[2]).as_posix() for p in run.source_files() if "chapters" in p.parts}
    assert {"chapters/setting/experiments.py", "chapters/setting/report.py", "chapters/setting/__init__.py"} <= names
    assert not any(n.startswith("chapters/lls") for n in names)
