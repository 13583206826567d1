"""The training loop: determinism, learning, schedules, callbacks, validation."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from c2f_utils import data
from c2f_utils.models import MLP, ModelOutput
from c2f_utils.train import (
    TensorBatches,
    TrainConfig,
    evaluate,
    extract_features,
    fit,
    lr_factor,
    resolve_device,
    seed_everything,
)


def _digits() -> tuple[data.LabeledData, data.LabeledData]:
    return data.load("digits", "train"), data.load("digits", "test")


def _train(seed: int, epochs: int = 3, **kw) -> tuple[nn.Module, pd.DataFrame]:
    train, _ = _digits()
    seed_everything(seed)
    model = MLP(64, 10, hidden=(32,), feature_dim=16)
    res = fit(model, (train.x, train.fine), epochs=epochs, lr=0.05, batch_size=64, seed=seed, device="cpu", **kw)
    return res.model, res.history


def test_same_seed_same_numbers_on_cpu() -> None:
    m1, h1 = _train(3)
    m2, h2 = _train(3)
    pd.testing.assert_frame_equal(h1.drop(columns="time_s"), h2.drop(columns="time_s"))
    for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p1, p2)
    _, h3 = _train(4)
    assert not h1.train_loss.equals(h3.train_loss)


@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (12, 4), (5, 8)])
def test_tensor_batches_equal_a_shuffling_dataloader(n: int, batch_size: int) -> None:
    # reference: torch's own DataLoader over the same tensors with a generator of the same seed
    x, y = torch.randn(n, 3), torch.arange(n)
    g_ref, g = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    ref = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=g_ref
    )
    ours = TensorBatches((x, y), batch_size, g, torch.device("cpu"))
    assert len(ours) == len(ref)
    for _ in range(3):  # epochs: the generator advances as the loader's does
        got, want = list(ours), list(ref)
        assert len(got) == len(want)
        for (xb, yb), (xr, yr) in zip(got, want, strict=True):
            assert torch.equal(xb, xr) and torch.equal(yb, yr)
    assert torch.equal(g.get_state(), g_ref.get_state())


def test_tensor_batches_validate_their_arguments() -> None:
    with pytest.raises(ValueError, match="tensors"):
        TensorBatches((torch.zeros(3), torch.zeros(4)), 2, torch.Generator(), torch.device("cpu"))
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatches((torch.zeros(3),), 0, torch.Generator(), torch.device("cpu"))


class _ItemDataset(torch.utils.data.Dataset):
    """Tensors behind a plain Dataset: forces fit through torch's DataLoader."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def test_fit_on_tensors_equals_fit_through_a_dataloader() -> None:
    train, _ = _digits()
    results = []
    for data_ in ((train.x, train.fine), _ItemDataset(train.x, train.fine)):
        seed_everything(2)
        model = MLP(64, 10, hidden=(32,), feature_dim=16)
        results.append(fit(model, data_, epochs=2, lr=0.05, batch_size=50, seed=2, device="cpu"))
    pd.testing.assert_frame_equal(results[0].history.drop(columns="time_s"), results[1].history.drop(columns="time_s"))
    for p1, p2 in zip(results[0].model.parameters(), results[1].model.parameters(), strict=True):
        assert torch.equal(p1, p2)


def test_tiny_run_learns_digits() -> None:
    _, test = _digits()
    model, history = _train(0, epochs=15)
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0] / 3
    assert evaluate(model, (test.x, test.fine), device="cpu")["acc"] > 0.9


def test_history_columns_and_validation() -> None:
    train, test = _digits()
    seed_everything(0)
    res = fit(
        MLP(64, 2),
        (train.x, train.labels("lt5")),
        val_data=(test.x, test.labels("lt5")),
        epochs=2,
        device="cpu",
        lr=0.05,
    )
    assert list(res.history.epoch) == [1, 2]
    assert {"lr", "train_loss", "train_acc", "val_loss", "val_acc", "time_s"} <= set(res.history.columns)
    assert not res.model.training


def test_callbacks_run_before_training_and_each_epoch() -> None:
    train, _ = _digits()
    seen: list[tuple[int, bool]] = []

    def cb(state):
        seen.append((state.epoch, state.model.training))
        state.model.eval()  # a probe may switch to eval mode; fit must switch back
        return {"epoch_squared": state.epoch**2}

    seed_everything(0)
    res = fit(MLP(64, 10), (train.x, train.fine), epochs=3, device="cpu", callbacks=[cb])
    assert seen == [(0, True), (1, True), (2, True), (3, True)]
    assert res.history.epoch_squared.tolist() == [0, 1, 4, 9]


@pytest.mark.parametrize(
    ("schedule", "kwargs", "reference"),
    [
        ("step", {"step_size": 3, "gamma": 0.5}, lambda opt: torch.optim.lr_scheduler.StepLR(opt, 3, 0.5)),
        (
            "multistep",
            {"milestones": (2, 5), "gamma": 0.1},
            lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, [2, 5], 0.1),
        ),
        ("cosine", {}, lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, 8)),
    ],
)
def test_schedules_match_torch_schedulers(schedule: str, kwargs: dict, reference) -> None:
    cfg = TrainConfig(epochs=8, lr=1.0, schedule=schedule, **kwargs)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = reference(opt)
    for epoch in range(8):
        assert lr_factor(epoch, cfg) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
        opt.step()
        sched.step()


def test_linear_warmup_then_schedule() -> None:
    cfg = TrainConfig(epochs=6, lr=1.0, schedule="cosine", warmup_epochs=2)
    factors = [lr_factor(e, cfg) for e in range(6)]
    assert factors[:2] == pytest.approx([1 / 3, 2 / 3])
    assert factors[2] == 1.0 and factors[-1] < factors[2]
    # The cosine after warm-up equals torch's over the remaining 4 epochs.
    assert factors[4] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("lr", -1.0),
        ("optimizer", "rmsprop"),
        ("schedule", "poly"),
        ("milestones", (5, 2)),
        ("momentum", 1.0),
        ("warmup_epochs", 10),
        ("gamma", 0.0),
        ("num_workers", -1),
        ("grad_clip", 0.0),
        ("grad_clip", -1.0),
    ],
)
def test_config_validation_names_the_field(field: str, value) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("clip", [None, 1e-3, 0.5, 1e3])
def test_grad_clip_scales_the_step_like_a_naive_global_norm_clip(clip: float | None) -> None:
    """One full-batch SGD step (lr 1, no momentum): the update is the gradient times
    min(1, clip / ||g||), the global norm over every parameter (Pascanu et al. 2013)."""
    train, _ = _digits()
    x, y = train.x[:64], train.fine[:64]
    seed_everything(0)
    model = MLP(64, 10, hidden=(32,), feature_dim=16)
    reference = [p.detach().clone() for p in model.parameters()]
    probe = MLP(64, 10, hidden=(32,), feature_dim=16)
    probe.load_state_dict(model.state_dict())
    nn.functional.cross_entropy(probe(x).logits, y).backward()
    grads = [p.grad for p in probe.parameters()]
    norm = float(torch.sqrt(sum((g**2).sum() for g in grads)))
    scale = 1.0 if clip is None else min(1.0, clip / norm)
    cfg = TrainConfig(epochs=1, batch_size=64, lr=1.0, momentum=0.0, grad_clip=clip, device="cpu", progress=False)
    fit(model, (x, y), config=cfg)
    for p, p0, g in zip(model.parameters(), reference, grads, strict=True):
        torch.testing.assert_close(p.detach(), p0 - scale * g, rtol=1e-4, atol=1e-6)


def test_criterion_with_features_and_learnable_parameters_and_regularizer() -> None:
    train, _ = _digits()

    class FeatureLoss(nn.Module):
        needs_features = True

        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.tensor(1.0))
            self.calls = 0

        def forward(self, logits, features, target):
            self.calls += 1
            assert features.shape[1] == 16
            return self.weight * nn.functional.cross_entropy(logits, target) + 0.0 * features.sum()

    crit = FeatureLoss()
    reg_calls = []

    def reg(x, out):
        reg_calls.append(len(x))
        return out.features.pow(2).mean() * 1e-3

    seed_everything(0)
    fit(MLP(64, 10, feature_dim=16), (train.x, train.fine), crit, epochs=1, device="cpu", regularizer=reg)
    assert crit.calls > 0 and len(reg_calls) == crit.calls
    assert crit.weight.item() != 1.0  # the criterion's parameter was optimised


def test_non_finite_loss_is_reported() -> None:
    train, _ = _digits()
    with pytest.raises(FloatingPointError, match="epoch 1"):
        fit(MLP(64, 10), (train.x, train.fine), lambda logits, y: logits.sum() * float("nan"), epochs=1, device="cpu")


def test_empty_data_and_unavailable_device_are_errors() -> None:
    with pytest.raises(ValueError, match="train_data"):
        fit(MLP(4, 2), (torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64)), epochs=1, device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device"):
            resolve_device("cuda")


def test_extract_features_matches_forward_in_eval_mode() -> None:
    train, _ = _digits()
    model = MLP(64, 10).train()
    out = extract_features(model, train.x[:100], batch_size=7, device="cpu")
    ref = model.eval()(train.x[:100])
    torch.testing.assert_close(out.features, ref.features)
    assert extract_features(model.train(), train.x[:3], device="cpu").logits.shape == (3, 10) and model.training


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")
def test_cuda_mixed_precision_run_learns() -> None:
    train, test = _digits()
    seed_everything(0)
    res = fit(MLP(64, 10), (train.x, train.fine), epochs=10, lr=0.05, device="cuda", amp=True)
    assert evaluate(res.model, (test.x, test.fine), device="cuda")["acc"] > 0.85


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")
def test_cuda_channels_last_conv_run_learns_with_data_on_device() -> None:
    from c2f_utils.models import LeNet5

    train, test = _digits()
    x = nn.functional.interpolate(train.x.view(-1, 1, 8, 8), size=32)
    seed_everything(0)
    res = fit(LeNet5(10, in_channels=1), (x, train.fine), epochs=10, lr=0.05, device="cuda")
    conv = next(m for m in res.model.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x_test = nn.functional.interpolate(test.x.view(-1, 1, 8, 8), size=32)
    assert evaluate(res.model, (x_test, test.fine), device="cuda")["acc"] > 0.8


def test_crop_flip_is_a_shifted_crop_or_its_mirror():
    from c2f_utils.train import crop_flip

    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) + 1
    assert torch.equal(crop_flip(0, False)(x), x)
    torch.manual_seed(0)
    out = crop_flip(2, True)(x)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, r : r + 8, c : c + 8] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(2)) for w in windows)


def test_crop_flip_keeps_shape_and_moves_content_within_the_padding() -> None:
    from c2f_utils.train import crop_flip

    torch.manual_seed(0)
    x = torch.rand(16, 3, 32, 32)
    out = crop_flip(4, True)(x)
    assert out.shape == x.shape
    # Each output image is a (possibly flipped) shifted copy: its non-zero content is a sub-block of the input.
    for i in range(4):
        inner = out[i][:, 4:-4, 4:-4]
        candidates = [x[i], x[i].flip(2)]
        shifts = [(dy, dx) for dy in range(9) for dx in range(9)]
        found = any(torch.equal(inner, c[:, dy : dy + 24, dx : dx + 24]) for c in candidates for dy, dx in shifts)
        assert found


class _SqrtAtZero(nn.Module):
    """Finite outputs whose gradient is NaN: d/dp sqrt(p - p) = inf * 0."""

    def __init__(self) -> None:
        super().__init__()
        self.body = MLP(4, 2, hidden=(6,))
        self.p = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> ModelOutput:
        out = self.body(x)
        return ModelOutput(out.logits + 0 * torch.sqrt(self.p - self.p), out.features)


def test_fit_stops_on_a_non_finite_gradient_and_names_the_parameter() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 4, generator=g), torch.randint(0, 2, (16,), generator=g)
    model = _SqrtAtZero()
    before = model.body.head.weight.detach().clone()
    with pytest.raises(FloatingPointError, match=r"gradient of parameter 'model\.p' at epoch 1"):
        fit(model, (x, y), torch.nn.CrossEntropyLoss(), TrainConfig(epochs=1, batch_size=8, seed=0, progress=False))
    assert all(bool(torch.isfinite(t).all()) for t in model.state_dict().values())  # no NaN was written
    torch.testing.assert_close(model.body.head.weight, before)  # stopped before the first step


def _tiny_fit(x: torch.Tensor, y: torch.Tensor) -> pd.DataFrame:
    torch.manual_seed(0)
    model = MLP(6, 4, hidden=(8,), feature_dim=4)
    config = TrainConfig(epochs=2, batch_size=8, device="cpu", progress=False)
    return fit(model, (x, y), nn.CrossEntropyLoss(), config).history.drop(columns="time_s")


def test_fit_casts_other_float_inputs_to_the_model_dtype_and_bool_labels_to_int64() -> None:
    x = torch.randn(24, 6, generator=torch.Generator().manual_seed(0))
    y = torch.arange(24) % 4
    reference = _tiny_fit(x, y)
    pd.testing.assert_frame_equal(_tiny_fit(x.double(), y), reference)  # float64 -> float32 is exact here
    pd.testing.assert_frame_equal(_tiny_fit(x.double().float(), y.to(torch.uint8)), reference)
    pd.testing.assert_frame_equal(_tiny_fit(x, (y % 2).bool()), _tiny_fit(x, y % 2))
    assert _tiny_fit(x.half(), y)["train_loss"].notna().all()


def test_fit_names_targets_the_criterion_cannot_read_and_inputs_it_cannot_cast() -> None:
    x, y = torch.randn(16, 6), torch.arange(16) % 4
    with pytest.raises(TypeError, match="targets in `train_data` that the `criterion` CrossEntropyLoss accepts"):
        _tiny_fit(x, y.float())
    with pytest.raises(TypeError, match="floating-point inputs in `train_data`"):
        _tiny_fit(x.to(torch.uint8), y)
    with pytest.raises(ValueError, match=r"inputs of `train_data` within the range of torch\.float32"):
        _tiny_fit(x.double() * 1e200, y)
    model = MLP(6, 4, hidden=(8,), feature_dim=4)
    with pytest.raises(TypeError, match="targets in `data`"):
        evaluate(model, (x, y.float()), device="cpu")
    assert torch.equal(extract_features(model, x.double(), device="cpu").logits, extract_features(model, x).logits)


def test_resolve_device_checks_availability() -> None:
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="`device` to be available, got 'mps'"):
            resolve_device("mps")
    with pytest.raises(ValueError, match="`device` to be available"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")
    assert TrainConfig(device="cuda:1").device == "cuda:1"  # a config names the device of the machine it runs on


def test_auto_device_prefers_cuda_then_mps_and_says_when_it_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from c2f_utils import train as c2f_train

    class _Backend:
        def __init__(self, present: bool) -> None:
            self.present = present

        def is_available(self) -> bool:
            return self.present

    monkeypatch.setattr(c2f_train, "_FELL_BACK", False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends, "mps", _Backend(False))
    with pytest.warns(c2f_train.DeviceFallbackWarning, match="no CUDA or MPS"):
        assert c2f_train.resolve_device("auto") == torch.device("cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once per process, not once per run of a sweep
        assert c2f_train.resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends, "mps", _Backend(True))
    assert c2f_train.resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert c2f_train.resolve_device("auto") == torch.device("cuda")
