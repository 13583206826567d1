"""A :class:`~c2f_utils.experiments.TrainingRun` called part by part, as a chapter's anatomy cell
does: what the run's own ``run()`` must equal."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from c2f_utils import train


def by_hand(run: Any) -> SimpleNamespace:
    """The run's data, then the seed, its network, criterion, recipe and probes, and ``fit`` over
    them: ``parts``, ``criterion``, ``recipe``, ``callbacks`` and ``result`` (the ``TrainResult``)."""
    parts = run.data()
    train.seed_everything(run.seed)
    model, criterion = run.build_model(parts), run.build_criterion(parts)
    recipe, callbacks = run.recipe(parts), run.probes(parts, criterion)
    result = train.fit(model, parts.train, criterion, recipe.config, callbacks=callbacks, **recipe.options)
    return SimpleNamespace(parts=parts, criterion=criterion, recipe=recipe, callbacks=callbacks, result=result)
