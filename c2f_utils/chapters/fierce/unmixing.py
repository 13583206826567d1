"""Table 1 and App. A.1-A.4 of "FIERCE": hyperspectral unmixing from a network trained on the dominant material.

:class:`UnmixingRun` trains an MLP on the dominant material of hyperspectral pixels and probes
the raw MSE (softmax output vs abundances), the transfer MSE (frozen features and a
:class:`~c2f_utils.probes.SoftmaxHead`), the feature entropies and the calibration. The
appendix sweeps (lambda, number of anchors, similarity and anchors) are grids of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...experiments import param
from ...runs import RunOutput
from .experiments import CriterionRun

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = ["VAL_FRACTION", "UnmixingData", "UnmixingRun"]

VAL_FRACTION = 0.2
"""Share of the training blocks (Table 1's scene) the transfer head stops on."""


@dataclass(frozen=True)
class UnmixingData:
    """The data of one :class:`UnmixingRun`: the pair the network is fit on (``train``: pixels and
    their dominant material), both labeled splits (their ``fine`` target: the abundances) and the
    test pixels' dominant material."""

    train: tuple[Tensor, Tensor]
    train_split: c2f_data.LabeledData
    test_split: c2f_data.LabeledData
    y_test: Tensor


@dataclass(frozen=True)
class UnmixingRun(CriterionRun):
    """MLP ``bands-200-400-100-m`` trained on the dominant material (Table 1 and App. A.1-A.4).

    The scene is split by whole contiguous blocks (:func:`~c2f_utils.data.block_split`; real
    scenes only, the synthetic mixtures have no image); the transfer head stops on
    :data:`VAL_FRACTION` of the training blocks (the same block grid, seed 0), never on the
    test blocks. History columns per probed epoch: ``raw_mse_train``/``raw_mse_test``
    (softmax output vs abundances, :func:`~c2f_utils.probes.simplex_mse`),
    ``transfer_mse_train``/``_val``/``_test`` and ``head_evals``
    (:func:`~c2f_utils.probes.transfer_mse` on the frozen features), ``entropy_anchor``
    (hard assignment to the anchors FIERCE draws for the seed, also for CE and LS),
    ``entropy_knn`` (Kozachenko-Leonenko, nats) and ``test_acc``. Metrics: the last epoch's
    held-out numbers, the paper's minima over the probed epochs after initialisation on the
    training pixels, the training accuracy and majority rate, the features' spread,
    calibration and output information.
    Arrays: the last epoch's test probabilities, features and abundances.
    """

    name: ClassVar[str] = "fierce.unmixing"
    version: ClassVar[int] = 2  # 2: blocked split, converged transfer head, validity metrics
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "losses.fierce",
        "models.mlp",
        "probes.calibration",
        "probes.entropy",
        "probes.information",
        "probes.regression",
        "train",
    )
    component_fields: ClassVar[dict[str, dict[Any, tuple[str, ...]]]] = {"dataset": {"mat_file": ("data.folders",)}}
    own_data: ClassVar[tuple[str, str]] = ("mat_file", "path")
    dataset: str = param(
        "hyperspectral scene (mat_file: your own .mat file, see `path`)",
        choices=("synthetic_unmixing", "samson", "jasper_ridge", "urban", "mat_file"),
    )
    similarity: str = param("FIERCE similarity (official code: dot)", choices=("cosine", "dot"))
    anchor_kind: str = param("FIERCE anchor distribution (official: U[0,1))", choices=("uniform", "sphere", "normal"))
    probe_every: int = param("transfer head and entropies every this many epochs", ge=1)
    path: str = param(
        "dataset mat_file: the .mat file of your scene ('' for other datasets)", default="", omit_default=True
    )
    pixel_order: str = param(
        "real scenes: pixels of an image in 'F' (column-major, MATLAB) or 'C' (row-major) order, 'auto': from the data",
        choices=("auto", "F", "C"),
        default="auto",
        omit_default=True,
    )
    data_key: str = param(
        "dataset mat_file: name of the spectra array ('': found by content)", default="", omit_default=True
    )
    abundance_key: str = param(
        "dataset mat_file: name of the abundances array ('': found by content)", default="", omit_default=True
    )
    endmember_key: str = param(
        "dataset mat_file: name of the endmembers array ('': found by content)", default="", omit_default=True
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        own = {k: getattr(self, k) for k in ("path", "data_key", "abundance_key", "endmember_key")}
        if self.dataset == "mat_file" and not self.path:
            raise ValueError(f"Expected dataset 'mat_file' with `path` (the .mat file), got path={self.path!r}")
        if self.dataset != "mat_file" and any(own.values()):
            given = ", ".join(f"{k}={v!r}" for k, v in own.items() if v)
            raise ValueError(f"Expected {given} only with dataset 'mat_file', got dataset {self.dataset!r}")
        if self.dataset == "synthetic_unmixing" and self.pixel_order != "auto":
            raise ValueError(
                f"Expected `pixel_order` 'auto' with dataset 'synthetic_unmixing' (no image), got {self.pixel_order!r}"
            )

    def declaration(self) -> dict[str, Any]:
        """The experiment's declaration; for ``mat_file``, also the scene's name (the file's stem)
        and SHA-256 (None while the file is missing): a run keyed by a path alone would be
        read back from the cache after the file changed."""
        out = super().declaration()
        if self.dataset == "mat_file":
            file = Path(self.path).expanduser()
            out["data_file"] = {"name": file.stem, "sha256": _sha256(file) if file.is_file() else None}
        return out

    def load_data(self) -> tuple[c2f_data.LabeledData, c2f_data.LabeledData]:
        """Training and test pixels with their abundances (the fine target); real scenes are
        split by whole blocks of the image (the loaders' default); ``mat_file``:
        :func:`~c2f_utils.data.folders.unmixing_file`."""
        from ... import data as c2f_data
        from ...data import folders as c2f_folders

        options: dict[str, Any] = {} if self.pixel_order == "auto" else {"pixel_order": self.pixel_order}
        if self.dataset == "mat_file":
            keys = {k: getattr(self, k) for k in ("data_key", "abundance_key", "endmember_key") if getattr(self, k)}
            options.update(keys)
            return tuple(c2f_folders.unmixing_file(split, self.path, **options) for split in ("train", "test"))
        return c2f_data.load(self.dataset, "train", **options), c2f_data.load(self.dataset, "test", **options)

    def val_rows(self, train: c2f_data.LabeledData) -> Any:
        """The training rows the transfer head stops on: :data:`VAL_FRACTION` of the training
        pixels' blocks (seed 0, the same for every run), or random rows (the head's own draw,
        ``None``) when the scene has no image."""
        import torch

        from ... import data as c2f_data

        coords = train.meta.get("coordinates")
        if coords is None:
            return None
        _, held = c2f_data.block_split(coords.numpy(), train.labels("argmax").numpy(), VAL_FRACTION, 5, 0)
        return torch.as_tensor(held)

    def _criterion_setting(self) -> tuple[int, dict[str, dict[str, Any]]]:
        return 100, {"fierce": {"similarity": self.similarity, "anchors": self.anchor_kind}}

    def data(self) -> UnmixingData:
        """Both splits (:meth:`load_data`); the network is fit on the dominant material (``argmax``)."""
        train, test = self.load_data()
        return UnmixingData((train.x, train.labels("argmax")), train, test, test.labels("argmax"))

    def build_model(self, data: UnmixingData) -> nn.Module:
        """The official MLP ``bands-200-400-100-materials``."""
        from ... import models as c2f_models

        bands, materials = data.train_split.x.shape[1], data.train_split.fine.shape[1]
        return c2f_models.create("mlp", n_classes=materials, input_shape=(bands,), hidden=(200, 400), feature_dim=100)

    def probes(self, data: UnmixingData, criterion: nn.Module) -> list[c2f_train.Callback]:
        """Every ``probe_every`` epochs and at the last: raw and transfer MSEs
        (:func:`~c2f_utils.probes.transfer_mse`, stopping on :meth:`val_rows`), the anchor entropy
        with the anchors a FIERCE run of the seed draws (also for CE and LS), the k-NN entropy
        (1,000 test pixels drawn from the seed) and the test accuracy; the criterion's own."""
        import torch

        from ... import losses as c2f_losses
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        train, test, y_test = data.train_split, data.test_split, data.y_test
        anchors = self.criterion_of("fierce").anchors  # a FIERCE run's own anchors (same seed, same draw)
        knn_rows = np.random.default_rng(self.seed).choice(len(test), min(len(test), 1000), replace=False)
        val_rows = self.val_rows(train)

        def probe(state: c2f_train.EpochState) -> dict[str, float] | None:
            if state.epoch % self.probe_every and state.epoch != self.epochs:
                return None
            tr, te = (c2f_train.extract_features(state.model, d.x, device=state.device) for d in (train, test))
            transfer = c2f_probes.transfer_mse(
                tr.features, train.fine, te.features, test.fine, self.seed, val_rows=val_rows
            )
            return {
                "raw_mse_train": c2f_probes.simplex_mse(torch.softmax(tr.logits, 1), train.fine),
                "raw_mse_test": c2f_probes.simplex_mse(torch.softmax(te.logits, 1), test.fine),
                "transfer_mse_train": transfer.train_mse,
                "transfer_mse_val": transfer.val_mse,
                "transfer_mse_test": transfer.test_mse,
                "head_evals": transfer.iterations,
                "entropy_anchor": c2f_probes.anchor_entropy(te.features, anchors, self.similarity),
                "entropy_knn": c2f_probes.knn_entropy(te.features[knn_rows]),
                "test_acc": float((te.logits.argmax(1) == y_test).float().mean()),
            }

        return [probe, *c2f_losses.callbacks(criterion)]

    def outcome(self, data: UnmixingData, result: c2f_train.TrainResult) -> RunOutput:
        """The last probe's held-out numbers, the paper's minima over the probed epochs after
        initialisation, the training accuracy and majority rate, the features' spread, the
        calibration and output information; the last epoch's test probabilities, features and
        abundances (arrays); the history."""
        import torch

        from ... import probes as c2f_probes
        from ... import train as c2f_train

        (_, y_train), test, y_test = data.train, data.test_split, data.y_test
        probed = result.history.dropna(subset=["raw_mse_test"])
        last = probed.iloc[-1]
        te = c2f_train.extract_features(result.model, test.x, device=self.device)
        probs = torch.softmax(te.logits, 1)
        cal = c2f_probes.calibration(probs, y_test)
        trained = probed[probed.epoch > 0]  # the paper's minimum is over training, not the untrained network
        shares = torch.bincount(y_train).double() / len(y_train)
        metrics = {
            **{k: last[k] for k in ("raw_mse_test", "transfer_mse_test", "test_acc", "entropy_anchor", "entropy_knn")},
            "raw_mse_train_min": trained.raw_mse_train.min(),
            "transfer_mse_train_min": trained.transfer_mse_train.min(),
            "train_acc": result.history.train_acc.iloc[-1],
            "train_majority": float(shares.max()),
            "feature_spread": float(te.features.std(0).mean()),
            "ece": cal.ece,
            "mce": cal.mce,
            "output_mi": c2f_probes.output_mutual_information(probs),
        }
        arrays = {
            "test_probs": probs.numpy(),
            "test_features": te.features.numpy(),
            "test_abundances": test.fine.numpy(),
        }
        return RunOutput({k: float(v) for k, v in metrics.items()}, result.history, arrays)


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (computed when a run is planned: no torch import)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
