"""The criteria and regularizers by name: ``create(name, **options)`` (timm's pattern).

A chapter declares its criteria as data, ``method -> (name, options)``, and builds each with
one call. The problem's sizes (``n_classes``, ``feature_dim``) and the randomness of criteria
that sample (``generator``, FIERCE's anchors) are passed to every :func:`create` call alike:
each criterion takes those it needs, so one call serves every name.

A criterion whose state moves between epochs (online label smoothing) defines
``on_epoch_end(state)``; :func:`callbacks` lists what :func:`~c2f_utils.train.fit` must call,
so ``fit(..., criterion, ..., callbacks=callbacks(criterion))`` suits every criterion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .._checks import check_number, check_positive_int
from .._registry import Registry
from .confidence import ConfidencePenalty
from .distill import KDLoss, SubstituteTeacherLoss
from .fierce import FIERCELoss
from .smoothing import LLS_TERMS, LLSLoss, OnlineLabelSmoothing, TFKDReg
from .transport import L2SP, L2Penalty, OTRegularizer

__all__ = ["available", "callbacks", "create", "register"]

_CRITERIA = Registry("criterion", context=("n_classes", "feature_dim", "generator"))
register = _CRITERIA.register


def available() -> tuple[str, ...]:
    """The names :func:`create` builds, sorted."""
    return _CRITERIA.names()


def create(
    name: str,
    *,
    n_classes: int | None = None,
    feature_dim: int | None = None,
    generator: torch.Generator | None = None,
    **options: Any,
) -> nn.Module:
    """The criterion (or regularizer) registered as ``name`` (:func:`available`).

    - ``"ce"``, ``"ls"``: ``nn.CrossEntropyLoss(label_smoothing=...)`` (torch's convention; optional
      for ``"ce"``, required for ``"ls"``).
    - ``"confidence"``: :class:`~c2f_utils.losses.ConfidencePenalty` (``beta``).
    - ``"fierce"``: :class:`~c2f_utils.losses.FIERCELoss` (``n_anchors``, ``lam``, ``tau``, ``similarity``,
      ``anchors``, ``anchor_range``, ``unit``, ``label_smoothing``).
    - ``"lls"``: :class:`~c2f_utils.losses.LLSLoss` (``alpha``, ``terms``, ``learn_q``, ``q_weight_decay``).
    - ``"ols"``: :class:`~c2f_utils.losses.OnlineLabelSmoothing` (``alpha``, ``init_smoothing``).
    - ``"tfkd"``: :class:`~c2f_utils.losses.TFKDReg` (``alpha``, ``temperature``, ``correct_prob``,
      ``multiplier``).
    - ``"kd"``: :class:`~c2f_utils.losses.KDLoss` (``temperature``, ``beta``, ``divergence``, ``t2_scaling``).
    - ``"substitute_teacher"``: :class:`~c2f_utils.losses.SubstituteTeacherLoss` (``q_logits``, ``alpha``).
    - ``"l2"``, ``"l2sp"``: :class:`~c2f_utils.losses.L2Penalty` (``alpha``),
      :class:`~c2f_utils.losses.L2SP` (``reference``, ``alpha``, ``beta``, ``new``).
    - ``"ot"``: :class:`~c2f_utils.losses.OTRegularizer` (``plan``, ``solver``, ``beta``, ``max_iter``,
      ``tol``, ``warm_start``).

    ``create(name, ...)`` builds exactly what the direct call builds.

    Parameters
    ----------
    name : str
        A registered name; another raises :class:`ValueError` naming the known ones.
    n_classes : int, optional
        Number of classes, for the criteria with class-by-class state (LLS, OLS, TF-KD_reg);
        ignored by the others, required by these.
    feature_dim : int, optional
        Size of the features, for FIERCE (its anchors); ignored by the others.
    generator : torch.Generator, optional
        Randomness of the criteria that sample (FIERCE's anchors); ignored by the others.
    **options
        The criterion's own arguments; an unknown one raises :class:`TypeError` naming it.
    """
    context = {"n_classes": n_classes, "feature_dim": feature_dim, "generator": generator}
    return _CRITERIA.create(name, context, options)


def callbacks(criterion: nn.Module) -> list[Callable[..., Any]]:
    """The :func:`~c2f_utils.train.fit` callbacks ``criterion`` needs: its ``on_epoch_end``
    when it defines one (online label smoothing moves its targets after every epoch), else none."""
    if not isinstance(criterion, nn.Module):
        raise TypeError(f"Expected `criterion` to be a torch.nn.Module, got {type(criterion).__name__}")
    hook = getattr(criterion, "on_epoch_end", None)
    return [hook] if callable(hook) else []


@register("ce")
def _ce(label_smoothing: float = 0.0) -> nn.CrossEntropyLoss:
    check_number("label_smoothing", label_smoothing, low=0, high=1)
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing)


@register("ls")
def _ls(label_smoothing: float) -> nn.CrossEntropyLoss:
    return _ce(label_smoothing)


register("confidence")(ConfidencePenalty)
register("fierce")(FIERCELoss)
register("kd")(KDLoss)
register("substitute_teacher")(SubstituteTeacherLoss)
register("l2")(L2Penalty)
register("l2sp")(L2SP)
register("ot")(OTRegularizer)


@register("lls")
def _lls(
    n_classes: int,
    alpha: float = 0.1,
    terms: tuple[str, ...] = LLS_TERMS,
    learn_q: bool = True,
    q_weight_decay: float = 0.0,
) -> LLSLoss:
    n_classes = check_positive_int("n_classes", n_classes)
    return LLSLoss(n_classes, alpha, terms=terms, learn_q=learn_q, q_weight_decay=q_weight_decay)


@register("ols")
def _ols(n_classes: int, alpha: float = 0.5, init_smoothing: float = 0.0) -> OnlineLabelSmoothing:
    return OnlineLabelSmoothing(check_positive_int("n_classes", n_classes), alpha, init_smoothing)


@register("tfkd")
def _tfkd(
    n_classes: int, alpha: float = 0.1, temperature: float = 20.0, correct_prob: float = 0.9, multiplier: float = 1.0
) -> TFKDReg:
    return TFKDReg(check_positive_int("n_classes", n_classes), alpha, temperature, correct_prob, multiplier)
