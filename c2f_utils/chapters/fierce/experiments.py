"""Experiments of "FIERCE": what every run of the chapter shares (criteria, recipe, data checks).

Every run trains one network on a coarse labeling with one criterion of :data:`LOSSES` (CE,
label smoothing or FIERCE) and is a :class:`~c2f_utils.experiments.TrainingRun`: its data, model,
criterion, recipe and probes are public and its run is ``fit`` over them. The experiments are
:class:`~c2f_utils.chapters.fierce.age.AgeRun` (Figure 1),
:class:`~c2f_utils.chapters.fierce.unmixing.UnmixingRun` (Table 1 and App. A.1-A.4) and
:class:`~c2f_utils.chapters.fierce.fewshot.FewShotRun` (Table 2); their grids per profile are
:data:`~c2f_utils.chapters.fierce.profiles.CHAPTER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..._checks import check_choice
from ...experiments import Recipe, TrainingRun, param

if TYPE_CHECKING:
    from torch import nn

__all__ = ["CRITERIA", "LOSSES", "CriterionRun"]

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


@dataclass(frozen=True)
class CriterionRun(TrainingRun):
    """Fields every experiment of the chapter shares: the criterion and its training recipe (Adam).

    The field ``criterion`` names the criterion of :data:`LOSSES`; :meth:`build_criterion` builds it."""

    criterion: str = param("training criterion", choices=CRITERIA)
    lam: float = param("FIERCE weight lambda of the entropy", ge=0)
    anchor_count: int = param("number of FIERCE anchors e", ge=2)
    entropy_unit: str = param("unit of FIERCE's entropy (official code: bits)", choices=("bits", "nats"))
    smoothing: float = param("label smoothing of LS (torch convention)", ge=0, lt=1)
    # the ``dataset`` value that reads your own files (``image_folder``) and the field naming them
    own_data: ClassVar[tuple[str, str]] = ("", "")

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

    def build_criterion(self, data: Any) -> nn.Module:
        """The run's criterion of :data:`LOSSES` (:meth:`criterion_of`)."""
        return self.criterion_of()

    def criterion_of(self, kind: str | None = None) -> nn.Module:
        """The run's criterion (or ``kind``) of :data:`LOSSES`: ``"ce"``, ``"ls"`` or
        :class:`~c2f_utils.losses.FIERCELoss`.

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

    def recipe(self, data: Any) -> Recipe:
        """Adam at ``lr`` (no schedule), batches of ``batch_size``."""
        from ... import train as c2f_train

        config = c2f_train.TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, optimizer="adam", lr=self.lr, seed=self.seed,
            device=self.device, progress=False,
        )  # fmt: skip
        return Recipe(config)
