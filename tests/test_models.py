"""Models: output contract, shapes, feature dimensions, parameter counts."""

from __future__ import annotations

import re

import pytest
import torch

from c2f_utils._registry import Registry
from c2f_utils.models import (
    MLP,
    LeNet5,
    ModelOutput,
    ResNet,
    available,
    cifar_resnet,
    count_parameters,
    create,
    register,
    resnet18,
)


def _check(model: torch.nn.Module, x: torch.Tensor, n_classes: int, feature_dim: int) -> ModelOutput:
    out = model(x)
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (len(x), n_classes)
    assert out.features.shape == (len(x), feature_dim)
    # The logits are the linear head applied to the features.
    torch.testing.assert_close(out.logits, model.head(out.features))
    return out


def test_mlp_shapes_and_flattening() -> None:
    model = MLP(64, 10, hidden=(32, 16), feature_dim=8)
    _check(model, torch.randn(5, 1, 8, 8), 10, 8)
    _check(MLP(64, 3, hidden=(), feature_dim=4), torch.randn(2, 64), 3, 4)


def test_mlp_rejects_wrong_input_width() -> None:
    with pytest.raises(ValueError, match="64 values per sample"):
        MLP(64, 10)(torch.randn(2, 63))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_dim": 0, "n_classes": 2}, "in_dim"),
        ({"in_dim": 4, "n_classes": 2, "feature_dim": -1}, "feature_dim"),
        ({"in_dim": 4, "n_classes": 2, "activation": "swish"}, "activation"),
        ({"in_dim": 4, "n_classes": 2, "hidden": (3, 0)}, "hidden"),
    ],
)
def test_mlp_validates_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)


@pytest.mark.parametrize("size", [28, 32])
def test_lenet5_accepts_28_and_32(size: int) -> None:
    _check(LeNet5(10, in_channels=1), torch.randn(3, 1, size, size), 10, 84)


def test_lenet5_reads_other_square_sizes_whole() -> None:
    # 60x60: conv 56, pool 28, conv 24, pool 12 -> fc1 reads 16 maps of 12x12.
    model = LeNet5(10, in_channels=1, image_size=60)
    assert model.fc1.in_features == 16 * 12 * 12
    _check(model, torch.randn(3, 1, 60, 60), 10, 84)
    with pytest.raises(ValueError, match="60, 60"):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=re.escape("28|32, 28|32")):
        LeNet5(10)(torch.randn(2, 1, 60, 60))
    with pytest.raises(ValueError, match="image_size"):
        LeNet5(10, image_size=12)
    torch.manual_seed(0)
    default = LeNet5(10)
    torch.manual_seed(0)
    explicit = LeNet5(10, image_size=32)
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(default(x).logits, explicit(x).logits)  # 32 is the original network


def test_lenet5_parameter_count_matches_the_original_layout() -> None:
    # conv1 6*(25+1), conv2 16*(6*25+1), fc 400*120+120, 120*84+84, head 84*10+10
    expected = 6 * 26 + 16 * 151 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10
    assert count_parameters(LeNet5(10)) == expected


@pytest.mark.parametrize(("depth", "params"), [(20, 0.27e6), (56, 0.85e6)])
def test_cifar_resnet_parameter_counts_match_he_et_al(depth: int, params: float) -> None:
    # He et al. (2016), Table 6: ResNet-20 0.27M, ResNet-56 0.85M parameters.
    model = cifar_resnet(depth, n_classes=10)
    assert abs(count_parameters(model) - params) / params < 0.02
    _check(model, torch.randn(2, 3, 32, 32), 10, 64)


def test_cifar_resnet_slim_width() -> None:
    slim = cifar_resnet(20, width=0.5)
    _check(slim, torch.randn(2, 3, 32, 32), 10, 32)
    assert count_parameters(slim) < count_parameters(cifar_resnet(20)) / 3


def test_cifar_resnet_rejects_bad_depth() -> None:
    with pytest.raises(ValueError, match="depth"):
        cifar_resnet(21)


def test_resnet18_parameter_count_matches_torchvision() -> None:
    from torchvision.models import resnet18 as tv_resnet18

    ours = resnet18(n_classes=1000, stem="imagenet")
    assert count_parameters(ours) == count_parameters(tv_resnet18(num_classes=1000))
    _check(ours, torch.randn(1, 3, 64, 64), 1000, 512)


@pytest.mark.parametrize(("feature_dim", "expected"), [(None, 128), (1, 1), (10, 10)])
def test_resnet18_feature_dims(feature_dim: int | None, expected: int) -> None:
    model = resnet18(n_classes=2, base_width=16, feature_dim=feature_dim)
    _check(model, torch.randn(2, 3, 64, 64), 2, expected)


def test_resnet18_one_dimensional_feature_is_affine_map_of_channel_mean() -> None:
    torch.manual_seed(0)
    model = resnet18(n_classes=2, base_width=8, feature_dim=1).eval()
    with torch.no_grad():
        model.scale.fill_(2.0)
        model.shift.fill_(-1.0)
        x = torch.randn(3, 3, 32, 32)
        maps = model.stages(model.stem(x))
        expected = 2.0 * maps.mean(dim=(1, 2, 3)).unsqueeze(1) - 1.0
        torch.testing.assert_close(model(x).features, expected)


def test_resnet18_width_multiplier() -> None:
    model = resnet18(n_classes=10, width=0.25)
    _check(model, torch.randn(2, 3, 32, 32), 10, 128)


def test_models_backpropagate_to_features() -> None:
    model = resnet18(n_classes=3, base_width=8, feature_dim=1)
    out = model(torch.randn(4, 3, 32, 32))
    out.features.sum().backward()
    assert model.stem[0].weight.grad is not None and torch.isfinite(model.stem[0].weight.grad).all()


# --------------------------------------------------------------------------- registry

_SAME_AS_DIRECT = [
    (
        "mlp",
        (1, 8, 8),
        {"hidden": (16, 8), "feature_dim": 4, "activation": "tanh"},
        lambda: MLP(64, 3, (16, 8), 4, "tanh"),
    ),
    ("lenet5", (3, 32, 32), {"feature_dim": 20}, lambda: LeNet5(3, in_channels=3, feature_dim=20)),
    ("lenet5", (1, 60, 60), {"image_size": 60}, lambda: LeNet5(3, in_channels=1, image_size=60)),
    ("cifar_resnet", (3, 32, 32), {"depth": 8, "width": 0.5}, lambda: cifar_resnet(8, 3, width=0.5)),
    (
        "resnet18",
        (1, 16, 16),
        {"base_width": 4, "feature_dim": 1},
        lambda: resnet18(3, 4, in_channels=1, feature_dim=1),
    ),
    (
        "resnet",
        (2, 16, 16),
        {"stage_widths": (4, 8), "blocks_per_stage": (1, 1), "shortcut": "A"},
        lambda: ResNet((4, 8), (1, 1), 3, 2, shortcut="A"),
    ),
]


def test_available_lists_every_registered_model() -> None:
    assert available() == ("cifar_resnet", "lenet5", "mlp", "resnet", "resnet18")
    assert {name for name, *_ in _SAME_AS_DIRECT} == set(available())


@pytest.mark.parametrize(("name", "shape", "options", "direct"), _SAME_AS_DIRECT, ids=[c[0] for c in _SAME_AS_DIRECT])
def test_create_builds_the_direct_constructors_module_with_the_same_weights(name, shape, options, direct) -> None:
    torch.manual_seed(3)
    built = create(name, n_classes=3, input_shape=shape, **options)
    after_create = torch.rand(2)
    torch.manual_seed(3)
    reference = direct()
    assert type(built) is type(reference) and repr(built) == repr(reference)
    state, expected = built.state_dict(), reference.state_dict()
    assert list(state) == list(expected)
    for key, value in expected.items():
        assert torch.equal(state[key], value), key
    assert torch.equal(after_create, torch.rand(2))  # the same draws from the global generator
    _check(built, torch.rand(2, *shape), 3, built.feature_dim)


def test_create_refuses_unknown_names_and_options_naming_them() -> None:
    with pytest.raises(ValueError, match=r"`name`.*'mlp'.*got 'mpl' \(did you mean 'mlp'\?\)"):
        create("mpl", n_classes=3, input_shape=(4,))
    with pytest.raises(TypeError, match=r"\['hiden'\] of model 'mlp'.*did you mean 'hidden'"):
        create("mlp", n_classes=3, input_shape=(4,), hiden=(3,))
    with pytest.raises(TypeError, match="`stage_widths`"):
        create("resnet", n_classes=3, input_shape=(3, 8, 8), blocks_per_stage=(1,))
    with pytest.raises(TypeError, match="`name`"):
        create(3, n_classes=3, input_shape=(4,))
    with pytest.raises(ValueError, match="`input_shape`"):
        create("lenet5", n_classes=3, input_shape=(64,))
    with pytest.raises(ValueError, match="`input_shape`"):
        create("lenet5", n_classes=3, input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="`input_shape`"):
        create("mlp", n_classes=3, input_shape=(0, 4))
    with pytest.raises(ValueError, match="`depth`"):
        create("cifar_resnet", n_classes=3, input_shape=(3, 32, 32), depth=9)


def test_register_adds_a_name_once() -> None:
    registry = Registry("model")
    registry.register("tiny")(lambda n_classes: MLP(2, n_classes, (), 2))
    assert registry.names() == ("tiny",)
    assert isinstance(registry.create("tiny", {"n_classes": 3}, {}), MLP)
    with pytest.raises(ValueError, match="'tiny', already registered"):
        registry.register("tiny")
    with pytest.raises(TypeError, match="`name`"):
        register("")
