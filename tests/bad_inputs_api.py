"""The public API as swept by tests/bad_inputs.py: one valid call per function, and the role of each argument."""

from __future__ import annotations

from typing import Any

import torch
from bad_inputs import Call
from torch import nn

from c2f_utils import losses

N, K, D = 12, 4, 6


def _logits() -> torch.Tensor:
    return torch.randn(N, K, generator=torch.Generator().manual_seed(1))


def _features(n: int = N, d: int = D, seed: int = 2) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _labels(n: int = N, k: int = K) -> torch.Tensor:
    return torch.arange(n) % k


def _probs(n: int = N, k: int = K) -> torch.Tensor:
    return torch.softmax(_features(n, k, seed=3), dim=1)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(D, K))


def _calls_losses() -> list[Call]:
    def ctor(name: str, cls: Any, valid: dict[str, Any], roles: dict[str, str]) -> Call:
        return Call(f"losses.{name}", cls, lambda: dict(valid), roles)

    def forward(name: str, make: Any, valid: Any, roles: dict[str, str]) -> Call:
        return Call(f"losses.{name}.forward", lambda **kw: make()(**kw), valid, roles)

    lt = {"logits": "logits", "target": "paired_labels"}
    calls = [
        ctor("ConfidencePenalty", losses.ConfidencePenalty, {"beta": 0.1}, {"beta": "nonneg_float"}),
        forward(
            "ConfidencePenalty",
            lambda: losses.ConfidencePenalty(0.1),
            lambda: {"logits": _logits(), "target": _labels()},
            lt,
        ),
        ctor(
            "FIERCELoss",
            losses.FIERCELoss,
            {
                "feature_dim": D,
                "n_anchors": 5,
                "lam": 1.0,
                "tau": 1.0,
                "similarity": "cosine",
                "unit": "nats",
                "label_smoothing": 0.0,
            },
            {
                "feature_dim": "pos_int",
                "n_anchors": "pos_int",
                "lam": "nonneg_float",
                "tau": "pos_float",
                "similarity": "choice",
                "unit": "choice",
                "label_smoothing": "unit_float",
            },
        ),
        forward(
            "FIERCELoss",
            lambda: losses.FIERCELoss(D, n_anchors=5, generator=torch.Generator().manual_seed(0)),
            lambda: {"logits": _logits(), "features": _features(), "target": _labels()},
            {"logits": "logits", "features": "paired_features", "target": "paired_labels"},
        ),
        Call(
            "losses.FIERCELoss.entropy",
            lambda **kw: losses.FIERCELoss(D, n_anchors=5, generator=torch.Generator().manual_seed(0)).entropy(**kw),
            lambda: {"features": _features()},
            {"features": "features"},
        ),
        ctor(
            "KDLoss",
            losses.KDLoss,
            {"temperature": 2.0, "beta": 0.5, "divergence": "kl", "t2_scaling": True},
            {"temperature": "pos_float", "beta": "unit_float", "divergence": "choice", "t2_scaling": "bool"},
        ),
        forward(
            "KDLoss",
            lambda: losses.KDLoss(2.0, beta=0.5),
            lambda: {"student_logits": _logits(), "teacher_logits": _features(N, K), "target": _labels()},
            {"student_logits": "logits", "teacher_logits": "logits", "target": "paired_labels"},
        ),
        Call(
            "losses.kd_loss",
            losses.kd_loss,
            lambda: {
                "student_logits": _logits(),
                "teacher_logits": _features(N, K),
                "target": _labels(),
                "temperature": 2.0,
                "beta": 0.5,
                "divergence": "kl",
                "t2_scaling": False,
            },
            {
                "student_logits": "logits",
                "teacher_logits": "logits",
                "target": "paired_labels",
                "temperature": "pos_float",
                "beta": "unit_float",
                "divergence": "choice",
                "t2_scaling": "bool",
            },
        ),
        ctor("L2Penalty", losses.L2Penalty, {"alpha": 0.1}, {"alpha": "nonneg_float"}),
        forward("L2Penalty", lambda: losses.L2Penalty(0.1), lambda: {"model": _model()}, {"model": "model"}),
        Call(
            "losses.L2SP",
            losses.L2SP,
            lambda: {"reference": _model(), "alpha": 0.1, "beta": 0.01},
            {"reference": "model", "alpha": "nonneg_float", "beta": "nonneg_float"},
        ),
        forward("L2SP", lambda: losses.L2SP(_model(), 0.1, 0.01), lambda: {"model": _model()}, {"model": "model"}),
        ctor(
            "LLSLoss",
            losses.LLSLoss,
            {"num_classes": K, "alpha": 0.1, "learn_q": True, "q_weight_decay": 0.0},
            {"num_classes": "pos_int", "alpha": "unit_float", "learn_q": "bool", "q_weight_decay": "nonneg_float"},
        ),
        forward("LLSLoss", lambda: losses.LLSLoss(K), lambda: {"logits": _logits(), "target": _labels()}, lt),
        ctor(
            "OnlineLabelSmoothing",
            losses.OnlineLabelSmoothing,
            {"num_classes": K, "alpha": 0.5, "init_smoothing": 0.1},
            {"num_classes": "pos_int", "alpha": "unit_float", "init_smoothing": "unit_float"},
        ),
        forward(
            "OnlineLabelSmoothing",
            lambda: losses.OnlineLabelSmoothing(K),
            lambda: {"logits": _logits(), "target": _labels()},
            lt,
        ),
        ctor(
            "SubstituteTeacherLoss",
            losses.SubstituteTeacherLoss,
            {"q_logits": _features(K, K), "alpha": 0.1},
            {"q_logits": "logits", "alpha": "unit_float"},
        ),
        forward(
            "SubstituteTeacherLoss",
            lambda: losses.SubstituteTeacherLoss(_features(K, K)),
            lambda: {"logits": _logits(), "target": _labels()},
            lt,
        ),
        ctor(
            "TFKDReg",
            losses.TFKDReg,
            {"num_classes": K, "alpha": 0.1, "temperature": 20.0, "correct_prob": 0.9, "multiplier": 1.0},
            {
                "num_classes": "pos_int",
                "alpha": "unit_float",
                "temperature": "pos_float",
                "correct_prob": "unit_float",
                "multiplier": "nonneg_float",
            },
        ),
        forward("TFKDReg", lambda: losses.TFKDReg(K), lambda: {"logits": _logits(), "target": _labels()}, lt),
        ctor(
            "OTRegularizer",
            losses.OTRegularizer,
            {"plan": "ot", "solver": "proximal", "beta": 0.01, "max_iter": 100, "tol": 1e-3, "warm_start": False},
            {
                "plan": "choice",
                "solver": "choice",
                "beta": "pos_float",
                "max_iter": "pos_int",
                "tol": "nonneg_float",
                "warm_start": "bool",
            },
        ),
        forward(
            "OTRegularizer",
            lambda: losses.OTRegularizer(),
            lambda: {"features": _features(), "ref_features": _features(seed=4)},
            {"features": "paired_features", "ref_features": "paired_features"},
        ),
        Call(
            "losses.label_smoothing_targets",
            losses.label_smoothing_targets,
            lambda: {"target": _labels(), "num_classes": K, "alpha": 0.1},
            {"target": "labels", "num_classes": "pos_int", "alpha": "unit_float"},
        ),
        Call(
            "losses.soft_cross_entropy",
            losses.soft_cross_entropy,
            lambda: {"logits": _logits(), "target_probs": _probs()},
            {"logits": "logits", "target_probs": "probs"},
        ),
        Call(
            "losses.neuron_cost",
            losses.neuron_cost,
            lambda: {"features": _features(), "ref_features": _features(seed=4)},
            {"features": "paired_features", "ref_features": "paired_features"},
        ),
        Call(
            "losses.transport_plan",
            losses.transport_plan,
            lambda: {"cost": _features(D, D).abs(), "solver": "proximal", "beta": 0.01, "max_iter": 200, "tol": 1e-3},
            {"cost": "cost", "solver": "choice", "beta": "pos_float", "max_iter": "pos_int", "tol": "nonneg_float"},
        ),
        Call(
            "losses.proximal_plan",
            losses.proximal_plan,
            lambda: {"cost": _features(D, D).abs(), "beta": 0.01, "max_iter": 200, "tol": 1e-3},
            {"cost": "batched_cost", "beta": "pos_float", "max_iter": "pos_int", "tol": "nonneg_float"},
        ),
        Call(
            "losses.ipot",
            losses.ipot,
            lambda: {"cost": _features(D, D).abs(), "beta": 0.01, "max_iter": 200, "tol": 1e-3, "check_every": 5},
            {
                "cost": "batched_cost",
                "beta": "pos_float",
                "max_iter": "pos_int",
                "tol": "nonneg_float",
                "check_every": "pos_int",
            },
        ),
        Call(
            "losses.round_to_marginals",
            losses.round_to_marginals,
            lambda: {
                "plan": torch.full((D, D), 1.0 / D**2),
                "a": torch.full((D,), 1.0 / D),
                "b": torch.full((D,), 1.0 / D),
            },
            {"plan": "cost", "a": "targets", "b": "targets"},
        ),
        # the registry: the name, the problem's sizes and the criterion's own options
        Call(
            "losses.create",
            losses.create,
            lambda: {"name": "lls", "n_classes": K, "alpha": 0.1},
            {"name": "choice", "n_classes": "pos_int", "alpha": "unit_float"},
        ),
        Call(
            "losses.create.fierce",
            losses.create,
            lambda: {"name": "fierce", "feature_dim": D, "n_anchors": 5, "lam": 0.5},
            {"feature_dim": "pos_int", "n_anchors": "pos_int", "lam": "nonneg_float"},
        ),
        Call(
            "losses.callbacks",
            losses.callbacks,
            lambda: {"criterion": losses.OnlineLabelSmoothing(K)},
            {"criterion": "model"},
        ),
    ]
    return calls


CALLS: list[Call] = _calls_losses()
