"""Pretrained weights read from a user folder, checksum verified, the way torchvision names them.

Some experiments start from weights trained elsewhere (the OT chapter's ImageNet ResNet-101).
They are torchvision's published files, used as torchvision uses them: the file keeps its
published name (``resnet101-63fe2227.pth``), whose hexadecimal part is the prefix of the
file's SHA-256 (the convention of :func:`torch.hub.load_state_dict_from_url`), and is looked
for in one folder:

- ``$C2F_WEIGHTS_DIR`` when set (or the ``weights_dir=`` argument);
- else torch's hub cache, ``$TORCH_HOME/hub/checkpoints`` (``~/.cache/torch/hub/checkpoints``),
  where ``torchvision.models.resnet101(weights=...)`` itself stores them.

When the file is missing it is downloaded there if ``download`` and the network allows
(:func:`torch.hub.download_url_to_file`, which checks the same SHA-256 prefix); otherwise
:class:`WeightsNotFoundError` says which file to put where and its URL. A file whose
SHA-256 does not start with the expected prefix is never loaded.

References
----------
.. [1] torchvision model weights: https://pytorch.org/vision/stable/models.html
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ._checks import check_bool

__all__ = ["WeightsChecksumError", "WeightsNotFoundError", "hash_prefix", "load_weights", "resolve", "weights_folder"]


class WeightsNotFoundError(FileNotFoundError):
    """A pretrained weights file is missing and could not be downloaded."""


class WeightsChecksumError(ValueError):
    """A weights file is present but its SHA-256 does not match the prefix in its published name."""


def resolve(weights: Any) -> Any:
    """``weights`` as a torchvision weights enum member.

    Accepts a member (``ResNet101_Weights.IMAGENET1K_V1``) or its name as a string
    (``"ResNet101_Weights.IMAGENET1K_V1"``, see :func:`torchvision.models.get_weight`).
    """
    from torchvision.models import WeightsEnum, get_weight

    if isinstance(weights, WeightsEnum):
        return weights
    if isinstance(weights, str):
        try:
            return get_weight(weights)
        except (ValueError, KeyError, AttributeError) as exc:
            raise ValueError(
                f"Expected `weights` to name torchvision weights such as 'ResNet101_Weights.IMAGENET1K_V1', "
                f"got {weights!r}"
            ) from exc
    raise TypeError(f"Expected `weights` to be a torchvision WeightsEnum member or its name, got {weights!r}")


def _folder(name: str, override: Any) -> Path:
    """:func:`weights_folder` with errors naming the argument ``name`` that holds ``override``."""
    if override is not None:
        if not isinstance(override, str | os.PathLike):
            raise TypeError(f"Expected `{name}` to be a path (str or os.PathLike), got {override!r}")
        return Path(override).expanduser()
    env = os.environ.get("C2F_WEIGHTS_DIR")
    return Path(env).expanduser() if env else Path(torch.hub.get_dir()) / "checkpoints"


def weights_folder(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder weights are read from: ``override``, else ``$C2F_WEIGHTS_DIR``, else torch's
    hub cache ``$TORCH_HOME/hub/checkpoints``.

    Parameters
    ----------
    override : str or os.PathLike, optional
        A folder to use instead; anything else (a number, a list) raises :class:`TypeError`.

    Returns
    -------
    Path
        The folder (``~`` expanded); it may not exist yet.
    """
    return _folder("override", override)


def hash_prefix(weights: Any) -> str:
    """The SHA-256 prefix torchvision publishes in the file name of ``weights`` (``"63fe2227"``)."""
    name = Path(resolve(weights).url).name
    match = torch.hub.HASH_REGEX.search(name)
    if match is None or not match.group(1):
        raise ValueError(
            f"Expected a weights file name with a hash suffix ('<name>-<sha256 prefix>.pth'), got {name!r}"
        )
    return match.group(1)


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _how(url: str, dest: Path) -> str:
    return (
        f"Download {url} and save it, under that name, as {dest} "
        f"(for instance: curl -L -o {dest} {url}), or set C2F_WEIGHTS_DIR to the folder that holds it; "
        "torchvision.models.get_model(..., weights=...) run once online also puts it in torch's hub cache."
    )


def load_weights(
    weights: Any, *, weights_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> dict[str, Tensor]:
    """The state dict of torchvision ``weights``, read from the weights folder, checksum verified.

    Parameters
    ----------
    weights : torchvision WeightsEnum member or str
        E.g. ``torchvision.models.ResNet101_Weights.IMAGENET1K_V1`` or its name.
    weights_dir : path, optional
        Folder holding the file; defaults to :func:`weights_folder` (``$C2F_WEIGHTS_DIR``, else
        ``$TORCH_HOME/hub/checkpoints``).
    download : bool
        Download a missing file into that folder from the weights' URL (SHA-256 prefix
        checked while downloading). A Python or NumPy bool; ``"no"``, ``1`` or ``None``
        raise :class:`TypeError`. Offline, or with ``download=False``, a missing file
        raises :class:`WeightsNotFoundError`.

    Returns
    -------
    dict of str to Tensor
        Loaded on the CPU with ``torch.load(..., weights_only=True)``.

    Raises
    ------
    WeightsNotFoundError
        The file is missing and was not downloaded; the message names the file, the folder and the URL.
    WeightsChecksumError
        The file's SHA-256 does not start with the prefix in its published name.
    """
    entry = resolve(weights)
    download = check_bool("download", download)
    folder = _folder("weights_dir", weights_dir)
    dest = folder / Path(entry.url).name
    expected = hash_prefix(entry)
    if not dest.is_file():
        if not download:
            raise WeightsNotFoundError(f"Weights {entry} not found: missing file {dest}. {_how(entry.url, dest)}")
        folder.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(entry.url, str(dest), hash_prefix=expected, progress=False)
        except Exception as exc:  # offline, refused, truncated or corrupt: the file is not there
            dest.unlink(missing_ok=True)
            raise WeightsNotFoundError(
                f"Weights {entry} not found: missing file {dest}, and downloading it failed "
                f"({type(exc).__name__}: {exc}). {_how(entry.url, dest)}"
            ) from exc
    actual = _sha256(dest)
    if not actual.startswith(expected):
        raise WeightsChecksumError(
            f"Weights file {dest} has SHA-256 {actual}, which does not start with {expected!r} as its published "
            f"name requires: it is not {entry}. Delete it; {_how(entry.url, dest)}"
        )
    return torch.load(dest, map_location="cpu", weights_only=True)
