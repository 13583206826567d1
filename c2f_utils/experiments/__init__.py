"""Experiments as declared, typed, cached runs; chapters as grids of them.

One module per role, all names importable from here (``from c2f_utils.experiments import
Experiment, Grid, Chapter, Config, param``):

- :mod:`~c2f_utils.experiments.parameters`: a field of an experiment, declared once with
  :func:`param` (type, bounds, choices, help), validated and parsed by pydantic
  (:func:`type_adapter`); a chapter's :class:`Parameter`.
- :mod:`~c2f_utils.experiments.experiment`: :class:`Experiment`, a frozen dataclass whose fields
  are one run's arguments and whose cached run is keyed by what it declares
  (:mod:`c2f_utils.identity`); :class:`Grid`, an experiment and the fields it is swept over.
- :mod:`~c2f_utils.experiments.training`: :class:`TrainingRun`, an experiment that trains one
  network, with the five public parts of its anatomy (data, model, criterion, recipe, probes)
  and a run that is ``fit`` over exactly these; its :class:`Recipe`.
- :mod:`~c2f_utils.experiments.configuration`: :class:`Chapter`, its grids per profile and the
  parameters derived from them; :class:`Config`, a chapter configured for a profile and
  overrides, with the plan of its runs.
- :mod:`~c2f_utils.experiments.notebook`: the notebook binding, which reads a chapter's
  parameters, and only them, from a notebook's globals.
"""

from .configuration import PROFILES, SMOKE_BATCH_SIZE, Chapter, Config
from .experiment import Experiment, Grid
from .parameters import Parameter, ParamInfo, check_value, param, parse_text, plural, type_adapter
from .training import SEED_HELP, Anatomy, Recipe, RunData, TrainingRun, fit_parts

__all__ = [
    "PROFILES",
    "SEED_HELP",
    "SMOKE_BATCH_SIZE",
    "Anatomy",
    "Chapter",
    "Config",
    "Experiment",
    "Grid",
    "ParamInfo",
    "Parameter",
    "Recipe",
    "RunData",
    "TrainingRun",
    "check_value",
    "fit_parts",
    "param",
    "parse_text",
    "plural",
    "type_adapter",
]
