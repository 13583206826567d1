"""Experiments of "FIERCE": what every run of the chapter shares (criteria, recipe, data checks).

Every run trains one network on a coarse labeling with one criterion of :data:`LOSSES` (CE,
label smoothing or FIERCE) and is a :class:`~c2f_utils.experiments.TrainingRun`: its data, model,
criterion, recipe and probes are public and its run is ``fit`` over them. The experiments are
:class:`~c2f_utils.chapters.fierce.age.AgeRun` (Figure 1),
:class:`~c2f_utils.chapters.fierce.unmixing.UnmixingRun` (Table 1 and App. A.1-A.4) and
:class:`~c2f_utils.chapters.fierce.fewshot.FewShotRun` (Table 2); their grids per profile are
:data:`~c2f_utils.chapters.fierce.profiles.CHAPTER`.

Every run has a field ``criterion`` (and :class:`~c2f_utils.chapters.fierce.age.AgeRun` a field
``model``) named like the part :class:`~c2f_utils.experiments.TrainingRun` builds: such a field
reads as its value (``run.criterion == "fierce"``), and called builds the part
(``run.criterion(data)``, :class:`NamedPart`), so the run keys (the field names) stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..._checks import check_choice
from ...experiments import Recipe, TrainingRun, param

if TYPE_CHECKING:
    from torch import nn

__all__ = ["CRITERIA", "LOSSES", "CriterionRun", "NamedPart"]

LOSSES: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "ce": ("ce", {}, {}),
    "ls": ("ls", {}, {"label_smoothing": "smoothing"}),
    "fierce": ("fierce", {}, {"n_anchors": "anchor_count", "lam": "lam", "unit": "entropy_unit"}),
}
"""The criteria, ``criterion -> (losses.create name, options, run options)``, the run options naming the
field that sets each: cross-entropy, label smoothing (torch convention) and FIERCE (each experiment adds
its similarity and anchors, ``_criterion_setting``)."""
CRITERIA = tuple(LOSSES)
"""Cross-entropy, label smoothing (torch convention) and FIERCE."""


class _Name(str):
    """A field's value (a name) that, called with the run's data, builds the part of that name."""

    def __new__(cls, value: str, build: Callable[[Any], Any]) -> _Name:
        out = super().__new__(cls, value)
        out._build = build
        return out

    def __call__(self, data: Any) -> Any:
        return self._build(data)

    def __reduce__(self) -> tuple[type, tuple[str]]:  # copied and pickled as the plain name
        return str, (str(self),)


class NamedPart:
    """A field of a :class:`~c2f_utils.experiments.TrainingRun` named like one of its parts (``criterion``,
    ``model``): read, the field's value (a ``str``); called with the run's data, the part, built by the
    method ``build`` (``run.criterion(data)``). Set on the class after the dataclass is made."""

    def __init__(self, field: str, build: str) -> None:
        self.field, self.build = field, build

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.field]
        return _Name(value, getattr(obj, self.build)) if isinstance(value, str) else value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.field] = str(value) if isinstance(value, _Name) else value


@dataclass(frozen=True)
class CriterionRun(TrainingRun):
    """Fields every experiment of the chapter shares: the criterion and its training recipe (Adam).

    The field ``criterion`` names the criterion of :data:`LOSSES`; ``run.criterion(data)`` builds it
    (:meth:`build_criterion`, :class:`NamedPart`)."""

    criterion: str = param("training criterion", choices=CRITERIA)
    lam: float = param("FIERCE weight lambda of the entropy", ge=0)
    anchor_count: int = param("number of FIERCE anchors e", ge=2)
    entropy_unit: str = param("unit of FIERCE's entropy (official code: bits)", choices=("bits", "nats"))
    smoothing: float = param("label smoothing of LS (torch convention)", ge=0, lt=1)
    own_data: ClassVar[tuple[str, str]] = ("", "")
    """The ``dataset`` value that reads your own files (``image_folder``) and the field naming them."""

    def params(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (:meth:`~c2f_utils.experiments.Experiment.params`), the
        :class:`NamedPart` fields as their plain names."""
        return {k: str(v) if isinstance(v, _Name) else v for k, v in super().params().items()}

    def data_needs(self) -> list[str]:
        """The registered dataset read (none for your own files: :meth:`check_data` reads them)."""
        return [] if self.dataset == self.own_data[0] else super().data_needs()

    def check_data(self) -> list[str]:
        """For your own files (:attr:`own_data`), what reading both splits raises: a missing file or
        folder, a CSV without a target column, a ``.mat`` file whose arrays or pixel order are not found."""
        kind, source = self.own_data
        if not kind or self.dataset != kind:
            return []
        try:
            self.load_data()
        except (OSError, KeyError, ValueError) as exc:
            return [f"{kind} {getattr(self, source)}: {exc.args[0] if isinstance(exc, KeyError) else exc}"]
        return []

    def _criterion_setting(self) -> tuple[int, dict[str, dict[str, Any]]]:
        """The feature size and the experiment's own options of each criterion (:data:`LOSSES` names),
        such as FIERCE's similarity and anchors."""
        raise NotImplementedError

    def build_criterion(self, kind: str | None = None) -> nn.Module:
        """The run's criterion (or ``kind``) of :data:`LOSSES`: ``"ce"``, ``"ls"`` or
        :class:`~c2f_utils.losses.FIERCELoss` (the part ``run.criterion(data)``).

        LS uses torch's ``label_smoothing`` ``s``: the true class gets ``1 - s + s/C``, the
        others ``s/C`` (the paper's ``(1 - σ, σ/(C-1))`` with ``σ = s (C-1)/C``). FIERCE's
        anchors are drawn from the seed, so CE and LS runs can be measured with them.
        """
        import torch

        from ... import losses as c2f_losses

        name, options, from_run = LOSSES[check_choice("kind", kind or self.criterion, LOSSES)]
        dim, own = self._criterion_setting()
        return c2f_losses.create(
            name,
            feature_dim=dim,
            generator=torch.Generator().manual_seed(10_000 + self.seed),
            **options,
            **{k: getattr(self, f) for k, f in from_run.items()},
            **own.get(name, {}),
        )

    def _criterion_part(self, data: Any) -> nn.Module:
        return self.build_criterion()

    def recipe(self, data: Any) -> Recipe:
        """Adam at ``lr`` (no schedule), batches of ``batch_size``."""
        from ... import train as c2f_train

        config = c2f_train.TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, optimizer="adam", lr=self.lr, seed=self.seed,
            device=self.device, progress=False,
        )  # fmt: skip
        return Recipe(config)


CriterionRun.criterion = NamedPart("criterion", "_criterion_part")
