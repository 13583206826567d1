"""The book's training criteria, one module per family (``nn.Module`` losses).

Chapters add ``fierce``, ``smoothing``, ``distill`` and ``transport`` here. A loss
that needs the features sets the class attribute ``needs_features = True`` and is
called as ``loss(logits, features, target)`` by :func:`c2f_utils.train.fit`.

- :mod:`.confidence`: the confidence penalty (Pereyra et al. 2017).
"""

from .confidence import ConfidencePenalty

__all__: list[str] = ["ConfidencePenalty"]
