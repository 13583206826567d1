"""The book's training criteria, one module per family (``nn.Module`` losses).

- :mod:`.fierce`: FIERCE, cross-entropy minus a feature-entropy estimate (Baena et al. 2022).
- :mod:`.confidence`: the confidence penalty (Pereyra et al. 2017).

A loss that needs the features sets the class attribute ``needs_features = True`` and is
called as ``loss(logits, features, target)`` by :func:`c2f_utils.train.fit`.
"""

from .confidence import ConfidencePenalty
from .fierce import FIERCELoss

__all__ = ["ConfidencePenalty", "FIERCELoss"]
