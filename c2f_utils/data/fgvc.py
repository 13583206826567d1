"""FGVC-Aircraft (Maji et al. 2013), the OT chapter's transfer target, read with torchvision.

``load("fgvc_aircraft", split)`` reads the public archive as torchvision lays it out in the
data folder (``$C2F_DATA_DIR``)::

    fgvc-aircraft-2013b/data/images/<id>.jpg
    fgvc-aircraft-2013b/data/variants.txt
    fgvc-aircraft-2013b/data/images_variant_{train,val,trainval,test}.txt

through :class:`torchvision.datasets.FGVCAircraft`, which downloads and unpacks the archive
when it is missing and ``download`` is true (torchvision publishes no checksum for it).
Offline, the error names the folder and the URL.

The module is imported by the chapter that uses it (``c2f_utils.chapters.ot_transfer``),
which registers the dataset; it is not imported by :mod:`c2f_utils.data` itself.

References
----------
.. [1] S. Maji, E. Rahtu, J. Kannala, M. Blaschko, A. Vedaldi. Fine-grained visual
   classification of aircraft. arXiv:1306.5151, 2013.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._checks import check_positive_int
from .core import LabeledData, register
from .files import cached_tensors, missing_error, reading

__all__ = ["BANNER_ROWS", "FGVC_URL", "fgvc_aircraft", "read_fgvc_image"]

FGVC_URL = "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz"
"""The archive torchvision downloads (``torchvision.datasets.FGVCAircraft._URL``)."""
BANNER_ROWS = 20
"""Rows at the bottom of every image that hold the photographer's copyright banner (the dataset's README)."""


def read_fgvc_image(path: str | Path, size: int) -> np.ndarray:
    """One image as ``(size, size, 3)`` uint8: banner removed, shorter edge resized to ``size``
    (bilinear, antialiased), centre-cropped to a square, as in He et al. (2016)'s evaluation."""
    from PIL import Image
    from torchvision.transforms import functional as F

    check_positive_int("size", size, minimum=8)
    with Image.open(path) as img:
        width, height = img.size
        if height <= BANNER_ROWS:
            raise ValueError(f"Expected an FGVC-Aircraft image taller than {BANNER_ROWS} rows, got {path} ({height})")
        scale = size / min(width, height - BANNER_ROWS)
        img.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))  # JPEG decoded at a reduced scale
        banner = round(BANNER_ROWS * img.size[1] / height)
        img = img.convert("RGB").crop((0, 0, img.size[0], img.size[1] - banner))
        img = F.center_crop(F.resize(img, size, antialias=True), [size, size])
        return np.asarray(img, dtype=np.uint8)


@register(
    "fgvc_aircraft",
    kind="real",
    splits=("train", "val", "trainval", "test"),
    description="FGVC-Aircraft (Maji et al. 2013): 10,000 images of 100 aircraft variants, torchvision format",
)
def fgvc_aircraft(split: str, *, data_dir: Path, download: bool, size: int = 256) -> LabeledData:
    """FGVC-Aircraft variants as ``(N, 3, size, size)`` images in [0, 1].

    Parameters
    ----------
    split : {"train", "val", "trainval", "test"}
        The creators' splits (3,334 / 3,333 / 6,667 / 3,333 images, about a third of
        every variant's 100 images each for train, val and test).
    size : int
        Side of the stored square images: the bottom banner is removed, the shorter edge
        resized to ``size`` and the centre cropped (256: the resize of He et al. 2016,
        before 224 x 224 crops). Images stay in [0, 1]; the network normalises them.

    Fine labels: the 100 variants (``fine_names``, ``data/variants.txt`` order). The
    decoded images are cached under ``$C2F_CACHE_DIR/data``.
    """
    check_positive_int("size", size, minimum=8)
    root = data_dir / "fgvc-aircraft-2013b"
    how = f"Get {FGVC_URL} and unpack it in the data folder (it creates fgvc-aircraft-2013b/)"
    if not root.is_dir() and not download:
        raise missing_error("fgvc_aircraft", root, f"{how}, or call with download=True (torchvision downloads it).")
    from torchvision.datasets import FGVCAircraft

    try:
        ds = FGVCAircraft(
            str(data_dir),
            split=split,
            annotation_level="variant",
            download=download and not root.is_dir(),
            loader=str,  # the path: images are decoded once, below, and cached
        )
    except Exception as exc:
        raise missing_error(
            "fgvc_aircraft", root, f"torchvision could not read or download it ({type(exc).__name__}: {exc}). {how}."
        ) from exc
    items = [ds[i] for i in range(len(ds))]
    if not items:
        raise missing_error("fgvc_aircraft", root / "data" / f"images_variant_{split}.txt", "It lists no image.")
    for path, _ in items:
        if not Path(path).is_file():
            raise missing_error("fgvc_aircraft", Path(path), f"An image of the {split} list is missing. {how}.")

    def decode() -> dict[str, Any]:
        images = []
        for p, _ in items:
            with reading("fgvc_aircraft", Path(p), data_dir):
                images.append(read_fgvc_image(p, size))
        return {"images": torch.as_tensor(np.stack(images))}

    sources = [root / "data" / f"images_variant_{split}.txt", *(Path(p) for p, _ in items)]
    payload = cached_tensors(f"fgvc_aircraft-{split}", sources, decode, {"size": size, "n": len(items)})
    images = payload["images"].permute(0, 3, 1, 2).contiguous().float().div_(255.0)
    fine = torch.as_tensor([label for _, label in items], dtype=torch.int64)
    return LabeledData(
        "fgvc_aircraft", split, images, fine, {}, tuple(ds.classes), {}, {"source": str(root), "size": size}
    )
