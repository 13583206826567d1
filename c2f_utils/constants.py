"""Names that the chapters' declarations read when they are imported.

The parameter choices and tables of a chapter (which datasets a grid may name, the
CIFAR-10 class names, the rows of the LLS paper's Table 4) are read at import, when
``python -m c2f_utils.run --list`` or ``--plan`` only lists or plans runs. They live here,
in a module that imports nothing, so that listing imports neither torch nor the data
and loss layers; :mod:`c2f_utils.data.real` and :mod:`c2f_utils.losses.smoothing`
import and re-export them.
"""

from __future__ import annotations

__all__ = ["CIFAR10H_COUNTS", "CIFAR10_CLASSES", "CIFAR10_NAMES", "LLS_ABLATIONS", "LLS_TERMS"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
"""The CIFAR-10 class names, in label order."""

CIFAR10_NAMES = ("cifar10", "cifar10_jpeg")
"""The registered names of CIFAR-10: the original batches and the JPEG copy."""

CIFAR10H_COUNTS = ("cifar10h", "cifar10h-counts.npy")
"""Where the CIFAR-10H annotator counts are read from, relative to the data folder."""

LLS_TERMS = ("fce", "rce", "pred_em", "target_em")
"""The four terms of Eq. 5 of the LLS paper: forward cross-entropy :math:`H(p^{lls}, \\hat p)`,
reverse cross-entropy :math:`H(\\hat p, p^{lls})`, prediction entropy maximisation
:math:`-H(\\hat p)` and target entropy maximisation :math:`-H(p^{lls})`."""

LLS_ABLATIONS: dict[str, tuple[str, ...]] = {
    "No FCE": ("rce", "pred_em", "target_em"),
    "No RCE": ("fce", "pred_em", "target_em"),
    "No Pred EM": ("fce", "rce", "target_em"),
    "No Targets EM": ("fce", "rce", "pred_em"),
    "FCE only": ("fce",),
    "Symmetric CE": ("fce", "rce"),
    "Forward KL": ("fce", "target_em"),
    "Reverse KL": ("rce", "pred_em"),
    "LLS": LLS_TERMS,
}
"""The rows of the LLS paper's Table 4: each row's name and the terms of Eq. 5 it keeps."""
