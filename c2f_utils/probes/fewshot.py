"""Few-shot evaluation of frozen features: nearest class mean over random episodes.

The protocol of FIERCE's Table 2 (Baena et al. 2022, §5.3) and its official code:
``n_way`` novel classes are drawn per episode, ``n_shot`` labelled examples of each
form the class means (raw features, Euclidean distance), and ``n_query`` further
examples per class are classified by their nearest mean. The accuracy is averaged over
episodes with a 95% confidence interval (normal approximation, as is usual in few-shot
papers, whose intervals are over 10,000 episodes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._checks import as_array, check_integer_values, check_positive_int, check_same_length
from .linear import ArrayLike

__all__ = ["FewShotResult", "few_shot_eval"]


@dataclass(frozen=True)
class FewShotResult:
    """Mean episode accuracy, the half-width of its 95% interval, and every episode's accuracy."""

    mean: float
    ci95: float
    accuracies: np.ndarray
    n_way: int
    n_shot: int
    n_query: int


def few_shot_eval(
    features: ArrayLike,
    labels: ArrayLike,
    n_way: int = 5,
    n_shot: int = 1,
    n_query: int = 15,
    n_episodes: int = 10_000,
    seed: int = 0,
    batch_episodes: int = 500,
) -> FewShotResult:
    r"""Nearest-class-mean accuracy of ``features`` on seeded ``n_way``-``n_shot`` episodes.

    For each episode, classes :math:`c_1..c_W` and disjoint support/query samples are
    drawn without replacement; the prediction for a query :math:`q` is
    :math:`\arg\min_w \|q - \mu_w\|_2` with :math:`\mu_w` the mean of the support
    features of :math:`c_w`. Returns mean accuracy and
    :math:`1.96\, \hat\sigma / \sqrt{n_\text{episodes}}`.

    Parameters
    ----------
    features : (N, d) array
        Features of the novel-class samples.
    labels : (N,) int array
        Their classes (integers of any value); every class used needs
        ``n_shot + n_query`` samples, and at least ``n_way`` classes must have that many.
    n_way, n_shot, n_query, n_episodes : int
        Episode shape and count (5-way, 1-shot, 15 queries, 10,000 episodes by default).
    seed : int
        Seed of the episode sampler: the same seed gives the same episodes.
    batch_episodes : int
        Episodes evaluated together (memory vs speed only).
    """
    for name, value in (("n_way", n_way), ("n_shot", n_shot), ("n_query", n_query), ("n_episodes", n_episodes)):
        check_positive_int(name, value)
    check_positive_int("batch_episodes", batch_episodes)
    check_positive_int("seed", seed, minimum=0)
    if n_way < 2:
        raise ValueError(f"Expected `n_way` >= 2, got {n_way}")
    x = as_array("features", features, 2).astype(np.float32)
    y = check_integer_values("labels", as_array("labels", labels, 1))
    check_same_length("features", x, "labels", y)
    classes, counts = np.unique(y, return_counts=True)
    eligible = classes[counts >= n_shot + n_query]
    if len(eligible) < n_way:
        raise ValueError(
            f"Expected at least n_way={n_way} classes in `labels` with n_shot + n_query = {n_shot + n_query} "
            "samples each, "
            f"got {len(eligible)} (class sizes {dict(zip(classes.tolist(), counts.tolist(), strict=True))})"
        )
    by_class = [np.flatnonzero(y == c) for c in eligible]
    rng = np.random.default_rng(seed)
    feats = torch.as_tensor(x)
    per_class = n_shot + n_query
    accs = np.empty(n_episodes)
    for start in range(0, n_episodes, batch_episodes):
        stop = min(start + batch_episodes, n_episodes)
        index = np.empty((stop - start, n_way, per_class), dtype=np.int64)
        for e in range(stop - start):
            for w, c in enumerate(rng.choice(len(eligible), n_way, replace=False)):
                index[e, w] = rng.choice(by_class[c], per_class, replace=False)
        batch = feats[torch.as_tensor(index)]  # (E, W, S+Q, d)
        means = batch[:, :, :n_shot].mean(2)  # (E, W, d)
        queries = batch[:, :, n_shot:].reshape(stop - start, n_way * n_query, -1)
        predicted = torch.cdist(queries, means).argmin(2)
        truth = torch.arange(n_way).repeat_interleave(n_query)
        accs[start:stop] = (predicted == truth).float().mean(1).numpy()
    half = 1.96 * accs.std(ddof=1) / np.sqrt(n_episodes) if n_episodes > 1 else float("nan")
    return FewShotResult(float(accs.mean()), float(half), accs, n_way, n_shot, n_query)
