"""The criteria by name (losses.create): the same modules as the direct constructors, clear refusals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from c2f_utils import losses
from c2f_utils.losses import (
    L2SP,
    ConfidencePenalty,
    FIERCELoss,
    KDLoss,
    L2Penalty,
    LLSLoss,
    OnlineLabelSmoothing,
    OTRegularizer,
    SubstituteTeacherLoss,
    TFKDReg,
)
from c2f_utils.models import MLP

_Q = torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
_REFERENCE = MLP(4, 3, (), 2)
_SAME_AS_DIRECT = [
    ("ce", {}, lambda: nn.CrossEntropyLoss()),
    ("ce", {"label_smoothing": 0.2}, lambda: nn.CrossEntropyLoss(label_smoothing=0.2)),
    ("ls", {"label_smoothing": 0.3}, lambda: nn.CrossEntropyLoss(label_smoothing=0.3)),
    ("confidence", {"beta": 0.4}, lambda: ConfidencePenalty(0.4)),
    (
        "fierce",
        {"n_anchors": 10, "lam": 0.5, "unit": "bits"},
        lambda: FIERCELoss(6, 10, 0.5, unit="bits", generator=torch.Generator().manual_seed(7)),
    ),
    ("lls", {"alpha": 0.2, "terms": ("fce", "rce")}, lambda: LLSLoss(3, 0.2, terms=("fce", "rce"))),
    ("ols", {"alpha": 0.4}, lambda: OnlineLabelSmoothing(3, 0.4)),
    ("tfkd", {"alpha": 0.1, "temperature": 5.0}, lambda: TFKDReg(3, 0.1, temperature=5.0)),
    ("kd", {"temperature": 4.0, "divergence": "kl"}, lambda: KDLoss(4.0, divergence="kl")),
    ("substitute_teacher", {"q_logits": _Q, "alpha": 0.2}, lambda: SubstituteTeacherLoss(_Q, 0.2)),
    ("l2", {"alpha": 0.01}, lambda: L2Penalty(0.01)),
    ("l2sp", {"reference": _REFERENCE, "alpha": 0.01, "beta": 0.1}, lambda: L2SP(_REFERENCE, 0.01, 0.1)),
    ("ot", {"plan": "uniform", "solver": "exact"}, lambda: OTRegularizer("uniform", "exact")),
]


def _attributes(criterion: nn.Module) -> dict:
    names = ("label_smoothing", "beta", "alpha", "lam", "terms", "temperature", "num_classes", "plan", "solver")
    return {n: getattr(criterion, n) for n in names if hasattr(criterion, n)}


def test_available_lists_every_registered_criterion() -> None:
    assert {name for name, *_ in _SAME_AS_DIRECT} == set(losses.available())


@pytest.mark.parametrize(
    ("name", "options", "direct"), _SAME_AS_DIRECT, ids=[f"{c[0]}-{i}" for i, c in enumerate(_SAME_AS_DIRECT)]
)
def test_create_builds_what_the_direct_constructor_builds(name, options, direct) -> None:
    # The problem's sizes and generator go to every call; each criterion takes those it needs.
    built = losses.create(name, n_classes=3, feature_dim=6, generator=torch.Generator().manual_seed(7), **options)
    reference = direct()
    assert type(built) is type(reference) and repr(built) == repr(reference)
    assert _attributes(built) == _attributes(reference)
    state, expected = built.state_dict(), reference.state_dict()
    assert list(state) == list(expected)
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def test_create_refuses_unknown_names_options_and_missing_sizes_naming_them() -> None:
    with pytest.raises(ValueError, match=r"`name`.*got 'fierse' \(did you mean 'fierce'\?\)"):
        losses.create("fierse")
    with pytest.raises(TypeError, match=r"\['alpah'\] of criterion 'lls'.*did you mean 'alpha'"):
        losses.create("lls", n_classes=3, alpah=0.1)
    with pytest.raises(TypeError, match=r"\['lam'\] of criterion 'ce'"):
        losses.create("ce", lam=0.1)
    with pytest.raises(TypeError, match="`n_classes`"):
        losses.create("ols")
    with pytest.raises(TypeError, match="`feature_dim`"):
        losses.create("fierce", lam=0.1)
    with pytest.raises(TypeError, match="`label_smoothing`"):
        losses.create("ls")
    with pytest.raises(ValueError, match="`label_smoothing`"):
        losses.create("ce", label_smoothing=1.5)
    with pytest.raises(ValueError, match="`beta`"):
        losses.create("confidence", beta=-1.0)


def test_callbacks_are_the_criterions_epoch_hooks() -> None:
    ols = losses.create("ols", n_classes=3)
    assert losses.callbacks(ols) == [ols.on_epoch_end]
    assert losses.callbacks(losses.create("ce")) == []
    with pytest.raises(TypeError, match="`criterion`"):
        losses.callbacks("ce")
