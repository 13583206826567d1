"""The ls_ib chapter's experiment code: tiny runs and scorecard verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from c2f_utils.chapters import ls_ib
from c2f_utils.probes import ls_info_plane

P = ls_ib.SPEC.resolve("quick", seeds=[0, 1, 2])
H = float(np.log(10))


def _plane(gap: float, ce_offset: float = 0.0) -> pd.DataFrame:
    rows = []
    for seed in range(3):
        for a in (0.0, 0.5):
            opt = ls_info_plane(a, np.full(10, 10)).i_xt
            x = opt - (ce_offset if a == 0 else 0.0)
            rows.append(
                {
                    "loss": "ls",
                    "strength": a,
                    "seed": seed,
                    "train_i_xt": x,
                    "train_i_ty": x - gap,
                    "train_ls_optimum": opt,
                    "train_h_y": H,
                }
            )
    return pd.DataFrame(rows)


def _ib(gain: float) -> tuple[pd.DataFrame, dict]:
    rows = [
        {
            "seed": s,
            "beta": 0.5,
            "i_xt": 1.0,
            "i_ty": 0.9 + gain + 0.001 * s,
            "ls_i_ty_same_i_xt": 0.9,
            "gain_over_ls": gain + 0.001 * s,
        }
        for s in range(3)
    ]
    return pd.DataFrame(rows), {"dataset": "annotator_counts"}


def _nuisance(acc_hi: float) -> pd.DataFrame:
    rows = []
    for seed in range(3):
        rows.append({"alpha": 0.0, "seed": seed, "target_acc": 0.9, "nuisance_probe_acc": 0.5 + 0.01 * seed})
        rows.append({"alpha": 0.8, "seed": seed, "target_acc": 0.9, "nuisance_probe_acc": acc_hi + 0.01 * seed})
    return pd.DataFrame(rows)


def _verdict(card: pd.DataFrame, fragment: str) -> str:
    return card.loc[next(c for c in card.index if fragment in c), "verdict"]


def test_scorecard_verdicts_follow_the_runs() -> None:
    ib, info = _ib(0.05)
    card = ls_ib.scorecard(_plane(0.0), ib, info, _nuisance(0.2), None, P)
    assert _verdict(card, "minimal sufficiency").startswith("reproduced")
    assert _verdict(card, "IB line").startswith("reproduced")
    assert _verdict(card, "beat the LS optimum") == "reproduced"
    assert _verdict(card, "nuisance").startswith("reproduced")
    assert _verdict(card, "no significant accuracy").startswith("reproduced")
    assert _verdict(card, "Grad-CAM") == "not tested in this profile"
    assert "paper scale not tested" in _verdict(card, "IB line")

    ib_bad, info = _ib(-0.05)
    bad = ls_ib.scorecard(_plane(0.2, ce_offset=0.3), ib_bad, info, _nuisance(0.6), None, P)
    assert _verdict(bad, "minimal sufficiency").startswith("not reproduced")
    assert _verdict(bad, "IB line").startswith("not reproduced")
    assert _verdict(bad, "beat the LS optimum") == "not reproduced"
    assert _verdict(bad, "nuisance").startswith("not reproduced")


def test_plane_run_places_ls_near_its_optimum_on_digits() -> None:
    out = ls_ib.plane_run("digits", "ls", 0.5, 0, 20, "adam", 0.01, 256, False, "cpu")
    m = out.metrics
    assert m["train_i_ty"] <= m["train_i_xt"] + 1e-9
    assert m["train_i_xt"] == pytest.approx(m["train_ls_optimum"], abs=0.1)
    assert m["train_h_y"] == pytest.approx(H, abs=0.01)
    with pytest.raises(ValueError, match="loss"):
        ls_ib.plane_run("digits", "vib", 0.5, 0, 1, "adam", 0.01, 256, False, "cpu")


def test_ib_run_on_synthetic_counts_and_auto_dataset(tmp_path, monkeypatch) -> None:
    out = ls_ib.ib_run("annotator_counts", [0.0, 0.5], 30, 0, "cpu")
    a = out.arrays
    assert a["beta"].tolist() == [0.0, 0.5]
    assert (a["i_ty"] <= a["i_xt"] + 1e-9).all() and (a["i_ty"] <= out.metrics["i_xy"] + 1e-9).all()
    assert a["ls_i_xt"][0] == pytest.approx(out.metrics["i_xy"], abs=1e-9)  # LS at alpha 0: the soft labels
    monkeypatch.setenv("C2F_DATA_DIR", str(tmp_path))
    assert ls_ib.resolve_counts_dataset("auto") == "annotator_counts"
    assert ls_ib.resolve_counts_dataset("cifar10h") == "cifar10h"


@pytest.mark.realdata
def test_auto_picks_the_real_cifar10h_counts(shared_data, monkeypatch) -> None:
    monkeypatch.setenv("C2F_DATA_DIR", str(shared_data))
    assert ls_ib.resolve_counts_dataset("auto") == "cifar10h"
