"""Pretrained weights: the published SHA-256 prefix is checked, a missing file says where to put it and from where."""

from __future__ import annotations

import hashlib
import urllib.error
from pathlib import Path

import pytest
import torch
from torchvision.models import ResNet101_Weights

from c2f_utils import weights

W = ResNet101_Weights.IMAGENET1K_V1
NAME = "resnet101-63fe2227.pth"


def _fake(folder: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    state = {"fc.weight": torch.arange(6.0).view(2, 3), "fc.bias": torch.ones(2)}
    path = folder / NAME
    torch.save(state, path)
    return path, state


def test_hash_prefix_is_torchvisions_published_one() -> None:
    assert Path(W.url).name == NAME
    assert weights.hash_prefix(W) == "63fe2227"
    assert weights.hash_prefix("ResNet101_Weights.IMAGENET1K_V1") == "63fe2227"


def test_folder_is_the_env_then_the_torch_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C2F_WEIGHTS_DIR", str(tmp_path / "mine"))
    assert weights.weights_folder() == tmp_path / "mine"
    monkeypatch.delenv("C2F_WEIGHTS_DIR")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert weights.weights_folder() == tmp_path / "torch" / "hub" / "checkpoints"
    assert weights.weights_folder(tmp_path) == tmp_path


def test_a_file_with_the_published_prefix_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, state = _fake(tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(weights, "hash_prefix", lambda w: digest[:8])  # the fake file's own prefix
    monkeypatch.setenv("C2F_WEIGHTS_DIR", str(tmp_path))
    loaded = weights.load_weights(W, download=False)
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


def test_a_file_whose_sha256_does_not_match_is_rejected(tmp_path: Path) -> None:
    path, _ = _fake(tmp_path)
    with pytest.raises(weights.WeightsChecksumError, match="63fe2227") as err:
        weights.load_weights(W, weights_dir=tmp_path, download=False)
    assert str(path) in str(err.value) and W.url in str(err.value)


def test_missing_weights_say_where_to_put_them_and_where_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(weights.WeightsNotFoundError) as err:
        weights.load_weights(W, weights_dir=tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / NAME) in message and W.url in message and "C2F_WEIGHTS_DIR" in message

    def offline(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        Path(dst).write_bytes(b"partial")
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(weights.WeightsNotFoundError, match="no network") as err:
        weights.load_weights(W, weights_dir=tmp_path / "new")
    assert W.url in str(err.value) and not (tmp_path / "new" / NAME).exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"weights": 3}, TypeError, "`weights`"),
        ({"weights": "ResNet101_Weights.NOPE"}, ValueError, "`weights`"),
        ({"weights": W, "download": "yes"}, TypeError, "`download`"),
        ({"weights": W, "weights_dir": 5}, TypeError, "`weights_dir`"),
    ],
)
def test_arguments_are_validated(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        weights.load_weights(**kwargs)
