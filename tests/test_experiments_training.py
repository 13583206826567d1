"""TrainingRun: the run is fit over its five public parts, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from anatomy import by_hand
from torch import nn

from c2f_utils import train
from c2f_utils.experiments import Recipe, TrainingRun, param


@dataclass(frozen=True)
class _Data:
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class _Tiny(TrainingRun):
    name: ClassVar[str] = "tests.tiny_training_run"
    hidden: int = param("hidden units", ge=1)

    def data(self) -> _Data:
        g = torch.Generator().manual_seed(123)  # the data do not depend on the training seed
        x = torch.randn(96, 5, generator=g)
        y = (x[:, 0] > 0).long()
        return _Data((x[:64], y[:64]), (x[64:], y[64:]))

    def build_model(self, data: _Data) -> nn.Module:
        from c2f_utils import models

        return models.create("mlp", n_classes=2, input_shape=(5,), hidden=(self.hidden,), feature_dim=4)

    def build_criterion(self, data: _Data) -> nn.Module:
        return nn.CrossEntropyLoss()

    def recipe(self, data: _Data) -> Recipe:
        config = train.TrainConfig(self.epochs, self.batch_size, lr=self.lr, seed=self.seed, device=self.device)
        return Recipe(config)

    def probes(self, data: _Data, criterion: nn.Module) -> list[train.Callback]:
        return [lambda state: train.evaluate(state.model, data.test, device=state.device)]


def _tiny(**changes) -> _Tiny:
    return _Tiny(**{"seed": 0, "epochs": 3, "lr": 0.1, "batch_size": 16, "device": "cpu", "hidden": 8, **changes})


def test_run_is_fit_over_the_five_parts() -> None:
    run = _tiny()
    out = run.run()
    by_hand_result = by_hand(run).result
    assert out.history.drop(columns="time_s", errors="ignore").equals(
        by_hand_result.history.drop(columns="time_s", errors="ignore")
    )
    assert out.metrics["acc"] == pytest.approx(float(by_hand_result.history["acc"].iloc[-1]))
    assert out.history.epoch.tolist() == [0, 1, 2, 3]


def test_seed_changes_the_run_and_the_shared_fields_are_validated() -> None:
    assert not _tiny(seed=1).run().history["train_loss"].equals(_tiny(seed=0).run().history["train_loss"])
    with pytest.raises(ValueError, match="epochs"):
        _tiny(epochs=0)
    with pytest.raises(TypeError):
        _Tiny(0, 3, 0.1, 16, "cpu", 8)  # the shared fields are keyword-only


def test_parts_left_out_name_themselves_and_recipe_checks_its_options() -> None:
    @dataclass(frozen=True, kw_only=True)
    class _Bare(TrainingRun):
        name: ClassVar[str] = "tests.bare_training_run"

    with pytest.raises(NotImplementedError, match="data"):
        _Bare(seed=0, epochs=1, lr=0.1, batch_size=4, device="cpu").run()
    with pytest.raises(TypeError, match="config"):
        Recipe({"epochs": 1})
    with pytest.raises(ValueError, match="schedule"):
        Recipe(train.TrainConfig(1, 4, device="cpu"), {"schedule": "cosine"})
