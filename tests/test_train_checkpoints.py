"""Checkpoints of `fit`: a killed run resumes from its last checkpoint and ends as if never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from c2f_utils.losses import FIERCELoss
from c2f_utils.models import MLP
from c2f_utils.train import SMOKE_BATCHES, SMOKE_ENV, TrainConfig, checkpointing, fit, seed_everything

X = torch.randn(240, 10, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] > 0).long()
CONFIG = TrainConfig(epochs=6, batch_size=32, lr=0.05, seed=3, checkpoint_every=2, progress=False)


class Stop(Exception):
    pass


def _model_and_criterion() -> tuple[torch.nn.Module, FIERCELoss]:
    """A FIERCE criterion draws Gumbel noise from its own generator: its state must be saved too."""
    seed_everything(1)
    return MLP(10, 2, hidden=(16,), feature_dim=8), FIERCELoss(8, 10, 1.0, generator=torch.Generator().manual_seed(5))


def _weights_sum(state) -> dict[str, float]:
    return {"w": float(sum(p.detach().sum() for p in state.model.parameters()))}


def _same(a, b) -> bool:
    pairs = zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def test_resumed_fit_equals_uninterrupted(tmp_path: Path) -> None:
    model, crit = _model_and_criterion()
    reference = fit(model, (X, Y), crit, CONFIG, callbacks=[_weights_sum])

    def stop_at_5(state) -> None:
        if state.epoch == 5:
            raise Stop

    model, crit = _model_and_criterion()
    with pytest.raises(Stop), checkpointing(tmp_path):
        fit(model, (X, Y), crit, CONFIG, callbacks=[_weights_sum, stop_at_5])
    assert torch.load(tmp_path / "fit-0.pt", weights_only=False)["epoch"] == 4  # the last multiple of 2 before 5

    model, crit = _model_and_criterion()
    with checkpointing(tmp_path):
        resumed = fit(model, (X, Y), crit, CONFIG, callbacks=[_weights_sum])
    assert _same(reference, resumed)
    columns = [c for c in reference.history.columns if c != "time_s"]
    assert reference.history[columns].equals(resumed.history[columns])


def test_finished_fit_is_read_back_and_calls_are_numbered(tmp_path: Path) -> None:
    """Two fits in one run (teacher, student) have their own files; a rerun trains neither."""
    with checkpointing(tmp_path):
        first = fit(*_model_and_criterion()[:1], (X, Y), config=CONFIG)
        second = fit(*_model_and_criterion()[:1], (X, Y), config=CONFIG.__class__(**{**CONFIG.__dict__, "seed": 4}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit-0.pt", "fit-1.pt"]
    steps = []
    with checkpointing(tmp_path):
        again = fit(*_model_and_criterion()[:1], (X, Y), config=CONFIG, callbacks=[lambda s: steps.append(s.epoch)])
    assert _same(first, again) and not _same(first, second)
    assert steps == []  # nothing left to train: not even the callbacks ran


def test_checkpoint_of_another_recipe_is_refused(tmp_path: Path) -> None:
    with checkpointing(tmp_path):
        fit(*_model_and_criterion()[:1], (X, Y), config=CONFIG)
    with pytest.raises(ValueError, match="different recipe"), checkpointing(tmp_path):
        fit(*_model_and_criterion()[:1], (X, Y), config=CONFIG, lr=0.01)


def test_no_checkpoint_outside_the_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fit(*_model_and_criterion()[:1], (X, Y), config=CONFIG)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="checkpoint_every"):
        TrainConfig(checkpoint_every=0)


def test_smoke_mode_runs_a_few_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def criterion(logits, target):
        calls.append(len(target))
        return torch.nn.functional.cross_entropy(logits, target)

    monkeypatch.setenv(SMOKE_ENV, "1")
    fit(*_model_and_criterion()[:1], (X, Y), criterion, CONFIG, epochs=2)
    assert calls == [32] * (2 * SMOKE_BATCHES)
    monkeypatch.delenv(SMOKE_ENV)
    calls.clear()
    fit(*_model_and_criterion()[:1], (X, Y), criterion, CONFIG, epochs=1)
    assert len(calls) == -(-len(X) // 32)


_SCRIPT = textwrap.dedent(
    """
    import sys, time, torch
    from dataclasses import dataclass
    from typing import ClassVar
    from c2f_utils.experiments import Experiment, param
    from c2f_utils.models import MLP
    from c2f_utils.train import TrainConfig, fit, seed_everything

    X = torch.randn(2000, 20, generator=torch.Generator().manual_seed(0))
    Y = (X[:, :2].sum(1) > 0).long()

    def slow(state):
        if state.epoch and sys.argv[1] == "slow":
            time.sleep(0.4)

    @dataclass(frozen=True)
    class Killable(Experiment):
        name: ClassVar[str] = "test.killable"
        seed: int = param("seed", ge=0)

        def run(self):
            seed_everything(self.seed)
            config = TrainConfig(epochs=12, batch_size=50, lr=0.05, seed=self.seed, checkpoint_every=1, progress=False)
            result = fit(MLP(20, 2, hidden=(32,), feature_dim=8), (X, Y), config=config, callbacks=[slow])
            return {"loss": float(result.history.train_loss.iloc[-1]),
                    "w": float(sum(p.sum() for p in result.model.parameters()))}

    r = Killable(0).cached()
    print(repr(r.metrics), r.cached)
    """
)


@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """SIGKILL a cached run mid-way; rerunning it resumes and gives the uninterrupted result."""
    script = tmp_path / "killable.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "C2F_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    ckpt_root = tmp_path / "cache" / "runs" / "test.killable"
    proc = subprocess.Popen([sys.executable, str(script), "slow"], env=env, stdout=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(ckpt_root.glob(".ckpt-*/fit-0.pt")):
        time.sleep(0.1)
    time.sleep(1.0)  # a few more epochs
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = list(ckpt_root.glob(".ckpt-*/fit-0.pt"))
    assert saved, "no checkpoint was written before the kill"
    epoch_at_kill = torch.load(saved[0], weights_only=False)["epoch"]
    assert 1 <= epoch_at_kill < 12
    assert not list(ckpt_root.glob("*/record.json"))  # the run had not finished

    resumed = subprocess.run([sys.executable, str(script), "fast"], env=env, capture_output=True, text=True, check=True)
    assert not list(ckpt_root.glob(".ckpt-*"))  # removed once the result is stored
    fresh_env = {**env, "C2F_CACHE_DIR": str(tmp_path / "fresh")}
    fresh = subprocess.run(
        [sys.executable, str(script), "fast"], env=fresh_env, capture_output=True, text=True, check=True
    )
    assert resumed.stdout.split()[-1] == "False"  # computed (resumed), not read from a finished entry
    assert resumed.stdout == fresh.stdout
