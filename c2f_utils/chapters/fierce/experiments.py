"""Chapter "FIERCE": feature-entropy regularisation (Baena, Drumetz & Gripon 2022).

Experiments (one run = one criterion and seed):

- :class:`AgeRun` (Figure 1): a network with a 1-D feature trained on a median split of
  a continuous target (age; quick: the size of a drawn ellipse); per probed epoch, the
  MSE of the 1-D optimal-transport read-out and the entropy of the feature;
- :class:`UnmixingRun` (Table 1, App. A.1-A.4): an MLP trained on the dominant material
  of hyperspectral pixels; raw MSE (softmax output vs abundances), transfer MSE (frozen
  features + :class:`~c2f_utils.probes.SoftmaxHead`), feature entropies, calibration.
  The appendix sweeps (lambda, number of anchors, similarity and anchors) are grids of it;
- :class:`FewShotRun` (Table 2): features trained on base classes, evaluated on novel
  classes by nearest-class-mean episodes.

Report: :func:`frames`, :func:`with_rise`, :func:`table`, :func:`sweep_table`,
:func:`scorecard` and the plots.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from ... import report
from ..._checks import check_choice
from ...constants import CIFAR10_NAMES
from ...experiments import Chapter, Config, Experiment, Grid, param
from ...runs import RunOutput, RunResult, results_frame
from .. import register

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = [
    "AGE_NETWORKS",
    "CHAPTER",
    "CHECKS",
    "CRITERIA",
    "CURVES",
    "EPOCH_PAIRS",
    "FEWSHOT_NETWORKS",
    "LOSSES",
    "MAJORITY",
    "RISE_FROM",
    "SWEEP_COLUMNS",
    "TABLES",
    "VAL_FRACTION",
    "AgeRun",
    "FewShotRun",
    "UnmixingRun",
    "benchmark_table",
    "card",
    "frames",
    "plot_age_features",
    "plot_curves",
    "plot_reliability",
    "plot_sweeps",
    "plot_tsne",
    "results_age_features",
    "results_checks",
    "results_curves",
    "results_figure",
    "results_sweeps",
    "results_table",
    "scorecard",
    "sweep_table",
    "table",
    "validity",
    "with_epoch_correlations",
    "with_rise",
]

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
AGE_NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    "resnet18": ("resnet18", {"base_width": 16, "feature_dim": 1}),
    "cnn": ("resnet", {"stage_widths": (8, 16, 32), "blocks_per_stage": (1, 1, 1), "shortcut": "B", "feature_dim": 1}),
    "mlp": ("mlp", {"hidden": (128, 32), "feature_dim": 1, "activation": "tanh"}),
}
"""The age networks (:class:`AgeRun`), ``model -> (models.create name, options)``: the official age
ResNet-18 (base width 16, 1-D feature), ``cnn``, the official network scaled to a CPU (three residual
stages of one basic block, 8, 16, 32 channels, batch norm, whose 1-D feature is, as in the official model,
the mean of the last feature maps through a learnable affine map), and a tanh MLP ``pixels-128-32-1``."""
FEWSHOT_NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    "digits": ("mlp", {"input_shape": (64,), "hidden": (256,), "feature_dim": 128}),
    **dict.fromkeys(CIFAR10_NAMES, ("lenet5", {"input_shape": (3, 32, 32)})),
    "cifar_fs": ("resnet18", {"input_shape": (3, 32, 32)}),
}
"""The few-shot networks (:class:`FewShotRun`), ``dataset -> (models.create name, options)``: an MLP
``64-256-128`` on digits, LeNet-5 (84 features) on CIFAR-10, ResNet-18 on CIFAR-FS."""

RISE_FROM = 0.1
"""Fraction of training at which Figure 1's CE curve is at its minimum (epoch ~50 of 500),
declared from the paper before any run: the "then rises" claim compares the last epoch
with the probed epoch nearest to this fraction (:func:`with_rise`)."""


@dataclass(frozen=True)
class _CriterionRun(Experiment):
    """Fields every experiment of the chapter shares: the criterion and its training recipe."""

    criterion: str = param("training criterion", choices=CRITERIA)
    lam: float = param("FIERCE weight lambda of the entropy", ge=0)
    anchor_count: int = param("number of FIERCE anchors e", ge=2)
    entropy_unit: str = param("unit of FIERCE's entropy (official code: bits)", choices=("bits", "nats"))
    smoothing: float = param("label smoothing of LS (torch convention)", ge=0, lt=1)
    seed: int = param("training seed (initialisation, batch order, FIERCE anchors)", ge=0)
    epochs: int = param("training epochs", ge=1)
    lr: float = param("learning rate (Adam; few-shot: SGD with Nesterov momentum)", gt=0)
    batch_size: int = param("mini-batch size", ge=1)
    device: str = param("device to train on", device=True)
    own_data: ClassVar[tuple[str, str]] = ("", "")
    """The ``dataset`` value that reads your own files (``image_folder``) and the field naming them."""

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

    def _adam(self) -> c2f_train.TrainConfig:
        from ... import train as c2f_train

        return c2f_train.TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, optimizer="adam", lr=self.lr, seed=self.seed,
            device=self.device, progress=False,
        )  # fmt: skip


@dataclass(frozen=True)
class AgeRun(_CriterionRun):
    """Train on the median split with a 1-D feature; probe MSE and entropy over epochs (Figure 1).

    History columns per probed epoch: ``mse_test`` (OT read-out on test images, beta
    chosen on the training images), ``mse_test_self`` (beta chosen on the test images:
    the paper's protocol), ``mse_train_self`` (on training images, the official code's),
    ``beta_self``, ``mse_class_mean``, ``entropy_anchor`` (hard assignment to the grid
    anchors, nats; the same grid for every criterion), ``entropy_hist`` (histogram
    differential entropy of the standardised feature) and ``test_acc``.
    """

    name: ClassVar[str] = "fierce.age"
    version: ClassVar[int] = 2  # 2: inputs standardised when `standardize` (the images the probes read too)
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "data.folders",
        "losses.fierce",
        "probes.entropy",
        "probes.regression",
        "train",
    )
    component_fields: ClassVar[dict[str, dict[Any, tuple[str, ...]]]] = {
        "model": {"mlp": ("models.mlp",), "resnet18": ("models.resnet",), "cnn": ("models.resnet",)}
    }
    own_data: ClassVar[tuple[str, str]] = ("image_folder", "folder")
    dataset: str = param(
        "dataset with a continuous target (quick: ellipse size; image_folder: your own images, see `folder`)",
        choices=("synthetic_sizes", "utkface", "image_folder"),
    )
    model: str = param(
        "network: a tanh MLP, a small residual CNN with batch norm (CPU) or the official ResNet-18",
        choices=("mlp", "cnn", "resnet18"),
    )
    standardize: bool = param(
        "standardise the images per channel with the training split's mean and standard deviation",
        choices=(False, True),
    )
    image_size: int = param("image side in pixels (official: 64)", ge=8)
    anchor_range: tuple[float, ...] = param("grid anchors from low to high (official: bins 1..100)", length=2)
    tau: float = param("Gumbel-softmax temperature (official: 1)", gt=0)
    probe_every: int = param("probe every this many epochs", ge=1)
    folder: str = param("dataset image_folder: the folder of your images ('' for other datasets)", default="")
    targets: str = param(
        "dataset image_folder: CSV with a file column and a numeric target column ('' to use `pattern`)", default=""
    )
    pattern: str = param(
        "dataset image_folder without a CSV: regex whose first group, found in a file name, is the target", default=""
    )
    target_column: str = param(
        "dataset image_folder with a CSV: its target column ('': the only numeric column)",
        default="",
        omit_default=True,
    )
    recursive: bool = param(
        "dataset image_folder: also read the images of the folder's subfolders",
        choices=(False, True),
        default=False,
        omit_default=True,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dataset == "image_folder":
            if not self.folder or bool(self.targets) == bool(self.pattern):
                raise ValueError(
                    "Expected dataset 'image_folder' with `folder` and exactly one of `targets` (CSV) and `pattern`, "
                    f"got folder={self.folder!r}, targets={self.targets!r}, pattern={self.pattern!r}"
                )
            if self.target_column and not self.targets:
                raise ValueError(f"Expected `target_column` with `targets` (a CSV), got {self.target_column!r}")
        elif self.folder or self.targets or self.pattern or self.target_column or self.recursive:
            raise ValueError(
                f"Expected `folder`, `targets`, `pattern`, `target_column` and `recursive` only with dataset "
                f"'image_folder', got dataset {self.dataset!r} with folder={self.folder!r}, targets={self.targets!r}, "
                f"pattern={self.pattern!r}, target_column={self.target_column!r}, recursive={self.recursive!r}"
            )

    def load_data(self) -> tuple[c2f_data.LabeledData, c2f_data.LabeledData]:
        """Training and test images with their continuous targets (synthetic: 2,000 ellipses;
        ``image_folder``: :func:`~c2f_utils.data.folders.image_regression_folder`)."""
        from ... import data as c2f_data
        from ...data import folders as c2f_folders

        if self.dataset == "image_folder":
            opts = {
                "targets": self.targets or None,
                "pattern": self.pattern or None,
                "target_column": self.target_column or None,
                "size": self.image_size,
                "recursive": self.recursive,
            }
            return tuple(c2f_folders.image_regression_folder(split, self.folder, **opts) for split in ("train", "test"))
        options: dict[str, Any] = {"size": self.image_size}
        if self.dataset == "synthetic_sizes":
            options.update(n_images=2000, min_radius=self.image_size / 10, max_radius=self.image_size / 3.2)
        return c2f_data.load(self.dataset, "train", **options), c2f_data.load(self.dataset, "test", **options)

    def build_model(self, in_shape: tuple[int, ...]) -> nn.Module:
        """The network ``model`` of :data:`AGE_NETWORKS` (two classes) for images of ``in_shape``."""
        from ... import models as c2f_models

        name, options = AGE_NETWORKS[self.model]
        return c2f_models.create(name, n_classes=2, input_shape=in_shape, **options)

    def inputs(self, train: c2f_data.LabeledData, test: c2f_data.LabeledData) -> tuple[Tensor, Tensor]:
        """The training and test images the network sees: with ``standardize``, per channel
        ``(x - m) / s`` with the mean ``m`` and standard deviation ``s`` of the training split only."""
        if not self.standardize:
            return train.x, test.x
        dims = (0, *range(2, train.x.ndim))
        mean, std = train.x.mean(dims, keepdim=True), train.x.std(dims, keepdim=True).clamp_min(1e-6)
        return (train.x - mean) / std, (test.x - mean) / std

    def _criterion_setting(self) -> tuple[int, dict[str, dict[str, Any]]]:
        fierce = {"tau": self.tau, "similarity": "neg_sqdist", "anchors": "grid", "anchor_range": self.anchor_range}
        return 1, {"fierce": fierce}

    def run(self) -> RunOutput:
        import torch

        from ... import probes as c2f_probes
        from ... import train as c2f_train

        train, test = self.load_data()
        x_train, x_test = self.inputs(train, test)
        y_train, y_test = train.labels("median"), test.labels("median")
        class_means = torch.stack([train.fine[y_train == c].mean() for c in (0, 1)]).numpy()
        c2f_train.seed_everything(self.seed)
        net = self.build_model(tuple(train.x.shape[1:]))
        crit = self.build_criterion()
        grid = torch.linspace(self.anchor_range[0], self.anchor_range[1], self.anchor_count).unsqueeze(1)

        def probe(state: c2f_train.EpochState) -> dict[str, float] | None:
            if state.epoch % self.probe_every and state.epoch != self.epochs:
                return None
            tr, te = (c2f_train.extract_features(state.model, x, device=state.device) for x in (x_train, x_test))
            f_tr, f_te = tr.features[:, 0].numpy(), te.features[:, 0].numpy()
            pred_tr, pred_te = tr.logits.argmax(1).numpy(), te.logits.argmax(1).numpy()
            z_tr, z_te = train.fine.numpy(), test.fine.numpy()
            res = c2f_probes.ot_regression_1d(f_te, pred_te, z_te, class_means, val=(f_tr, pred_tr, z_tr))
            res_tr = c2f_probes.ot_regression_1d(f_tr, pred_tr, z_tr, class_means)
            spread = f_te.std()
            return {
                "mse_test": res.mse_val,
                "mse_test_self": res.mse_self,
                "mse_train_self": res_tr.mse_self,
                "beta_self": res.beta_self,
                "mse_class_mean": res.mse_class_mean,
                "entropy_anchor": c2f_probes.anchor_entropy(te.features, grid, "neg_sqdist"),
                "entropy_hist": c2f_probes.histogram_entropy(f_te / spread) if spread > 0 else -np.inf,
                "test_acc": float((te.logits.argmax(1) == y_test).float().mean()),
            }

        result = c2f_train.fit(net, (x_train, y_train), crit, self._adam(), callbacks=[probe])
        probed = result.history.dropna(subset=["mse_test"])
        last = probed.iloc[-1]
        metrics = {
            "mse_test_final": last.mse_test,
            "mse_test_self_final": last.mse_test_self,
            "mse_test_self_min": probed.mse_test_self.min(),
            "mse_train_self_min": probed.mse_train_self.min(),
            "mse_class_mean": last.mse_class_mean,
            "test_acc": last.test_acc,
            "entropy_anchor": last.entropy_anchor,
        }
        feature = c2f_train.extract_features(result.model, x_test, device=self.device).features[:, 0].numpy()
        arrays = {"test_feature": feature, "test_target": test.fine.numpy()}
        return RunOutput({k: float(v) for k, v in metrics.items()}, result.history, arrays)


@dataclass(frozen=True)
class UnmixingRun(_CriterionRun):
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

    def build_model(self, bands: int, materials: int) -> nn.Module:
        """The official MLP ``bands-200-400-100-materials``."""
        from ... import models as c2f_models

        return c2f_models.create("mlp", n_classes=materials, input_shape=(bands,), hidden=(200, 400), feature_dim=100)

    def _criterion_setting(self) -> tuple[int, dict[str, dict[str, Any]]]:
        return 100, {"fierce": {"similarity": self.similarity, "anchors": self.anchor_kind}}

    def run(self) -> RunOutput:
        import torch

        from ... import probes as c2f_probes
        from ... import train as c2f_train

        train, test = self.load_data()
        c2f_train.seed_everything(self.seed)
        net = self.build_model(train.x.shape[1], train.fine.shape[1])
        crit = self.build_criterion()
        anchors = self.build_criterion("fierce").anchors  # a FIERCE run's own anchors (same seed, same draw)
        knn_rows = np.random.default_rng(self.seed).choice(len(test), min(len(test), 1000), replace=False)
        y_train, y_test = train.labels("argmax"), test.labels("argmax")
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

        result = c2f_train.fit(net, (train.x, y_train), crit, self._adam(), callbacks=[probe])
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


@dataclass(frozen=True)
class FewShotRun(_CriterionRun):
    """Train on base classes, then 5-way 1- and 5-shot nearest-class-mean on novel classes (Table 2).

    Digits: base classes 0-4 (an MLP 64-256-128), novel classes 5-9 (all five in every
    episode). CIFAR-FS: ResNet-18 on the 64 base classes, the 20 novel classes. SGD with
    Nesterov momentum 0.9, weight decay 5e-4, lr x0.1 at 1/3 and 2/3 of training
    (official: every 100 of 350 epochs). The final model is evaluated (the official code
    keeps the epoch with the best validation accuracy).
    """

    name: ClassVar[str] = "fierce.fewshot"
    version: ClassVar[int] = 2  # 2: learning-rate warm-up, the step schedule counted from its end
    uses: ClassVar[tuple[str, ...]] = (
        "data.core",
        "data.splits",
        "losses.fierce",
        "models.lenet5",
        "models.mlp",
        "models.resnet",
        "probes.fewshot",
        "train",
    )
    dataset: str = param("dataset split into base and novel classes", choices=("digits", *CIFAR10_NAMES, "cifar_fs"))
    episodes: int = param("evaluation episodes", ge=1)
    warmup_epochs: int = param("epochs of linear learning-rate warm-up before the step schedule", ge=0)

    def load_data(self) -> tuple[c2f_data.LabeledData, c2f_data.LabeledData]:
        """Base-class training data and novel-class evaluation data.

        Digits: 0-4 base, 5-9 novel (all images). CIFAR-10: training images of classes
        0-4 (airplane ... deer) base, test images of classes 5-9 (dog ... truck) novel.
        """
        from ... import data as c2f_data

        if self.dataset == "digits":
            full = c2f_data.load("digits", "all")
            return c2f_data.class_subset(full, range(5)), c2f_data.class_subset(full, range(5, 10))
        if self.dataset in CIFAR10_NAMES:
            base = c2f_data.class_subset(c2f_data.load(self.dataset, "train"), range(5))
            return base, c2f_data.class_subset(c2f_data.load(self.dataset, "test"), range(5, 10))
        return c2f_data.load(self.dataset, "train"), c2f_data.load(self.dataset, "test")

    def build_model(self, n_base: int) -> nn.Module:
        """The network of the dataset (:data:`FEWSHOT_NETWORKS`) on ``n_base`` base classes."""
        from ... import models as c2f_models

        name, options = FEWSHOT_NETWORKS[self.dataset]
        return c2f_models.create(name, n_classes=n_base, **options)

    def _criterion_setting(self) -> tuple[int, dict[str, dict[str, Any]]]:
        return {"digits": 128, "cifar10": 84, "cifar10_jpeg": 84}.get(self.dataset, 512), {}

    def run(self) -> RunOutput:
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        base, novel = self.load_data()
        c2f_train.seed_everything(self.seed)
        net = self.build_model(int(base.fine.max()) + 1)
        crit = self.build_criterion()
        steps = self.epochs - self.warmup_epochs  # the step schedule counts from the end of the warm-up
        milestones = (max(1, steps // 3), max(2, 2 * steps // 3))
        config = c2f_train.TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, momentum=0.9, nesterov=True, weight_decay=5e-4,
            schedule="multistep", milestones=milestones, warmup_epochs=self.warmup_epochs, seed=self.seed,
            device=self.device, progress=False,
        )  # fmt: skip
        result = c2f_train.fit(net, (base.x, base.fine), crit, config)
        feats = c2f_train.extract_features(result.model, novel.x, device=self.device).features
        one = c2f_probes.few_shot_eval(feats, novel.fine, 5, 1, 15, self.episodes, seed=self.seed)
        five = c2f_probes.few_shot_eval(feats, novel.fine, 5, 5, 15, self.episodes, seed=self.seed)
        metrics = {"acc_1shot": one.mean, "acc_1shot_ci": one.ci95, "acc_5shot": five.mean, "acc_5shot_ci": five.ci95}
        return RunOutput({**metrics, "train_acc": float(result.history.iloc[-1].train_acc)}, result.history)


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (computed when a run is planned: no torch import)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- the chapter


def _profile(seeds, device, age, unmix, fewshot, lams, anchor_counts, unmix_seeds) -> dict[str, Grid]:
    common = {"criterion": "fierce", "seed": seeds[0], "entropy_unit": "bits", "device": device}
    per_seed = {"criterion": CRITERIA, "seed": seeds}
    unmix = UnmixingRun(**{**common, "seed": unmix_seeds[0]}, **unmix)
    one_run = ("criterion", "seed")  # the appendix sweeps: FIERCE, first seed
    variants = {"similarity": ("dot", "cosine"), "anchor_kind": ("uniform", "sphere")}
    return {
        "age": Grid(AgeRun(**common, **age), per_seed, group="age", fixed=("criterion",)),
        "unmix": Grid(
            unmix, {"criterion": CRITERIA, "seed": unmix_seeds}, group="unmix", fixed=("criterion",), own=("seed",)
        ),
        "fewshot": Grid(FewShotRun(**common, **fewshot), per_seed, group="fewshot", fixed=("criterion",)),
        "lambdas": Grid(unmix, {"lam": lams}, group="unmix", fixed=one_run),
        "anchor_counts": Grid(unmix, {"anchor_count": anchor_counts}, group="unmix", fixed=one_run),
        "variants": Grid(unmix, variants, group="unmix", fixed=(*one_run, *variants)),
    }


# fmt: off
_UNMIX = dict(batch_size=200, lam=1.0, smoothing=0.4, anchor_count=100, similarity="dot", anchor_kind="uniform",
              probe_every=10)
VAL_FRACTION = 0.2
"""Share of the training blocks (Table 1's scene) the transfer head stops on."""
_FEWSHOT = dict(batch_size=64, lam=1.5, smoothing=0.1, anchor_count=100, warmup_epochs=0)
#: The chapter: its experiments' grids per profile (``python -m c2f_utils.run --list fierce``).
CHAPTER = register(Chapter(
    name="fierce",
    source="fierce.md",
    title="FIERCE: feature-entropy regularisation",
    shared=("seed", "device", "entropy_unit"),
    profiles={
        "quick": _profile(
            (0, 1, 2), "cpu",
            age=dict(dataset="synthetic_sizes", model="mlp", standardize=False, image_size=16, epochs=40, lr=1e-3,
                     batch_size=64, lam=0.3, smoothing=0.1,
                     anchor_count=50, anchor_range=(-1.0, 1.0), tau=0.02, probe_every=2),
            unmix=dict(_UNMIX, dataset="synthetic_unmixing", epochs=30, lr=1e-3),
            fewshot=dict(_FEWSHOT, dataset="digits", epochs=40, lr=0.05, episodes=2000),
            lams=(0.3, 1.0, 4.0),
            anchor_counts=(10, 100, 400),
            unmix_seeds=(0, 1, 2),
        ),
        # real: Table 1 on Samson with the paper's recipe unchanged (probed every 20 epochs instead of 10,
        # each probe fits a converged transfer head), the scene split by blocks, five seeds (unmix.seeds);
        # Figure 1 on UTKFace at 32 px, standardised, with the official
        # ResNet scaled to a CPU (`cnn`), batch 128, anchors one unit apart on [-10, 10] (the official grid's
        # spacing) and the official temperature 1: the unit Gumbel noise blurs a feature over about one
        # anchor, not over the whole grid, and the features (spread of a few units) stay resolved;
        # Table 2 on CIFAR-10 (5 base + 5 novel classes) with LeNet-5 for 10 epochs after a 2-epoch warm-up.
        "real": _profile(
            (0, 1, 2, 3, 4), "cpu",
            age=dict(dataset="utkface", model="cnn", standardize=True, image_size=32, epochs=12, lr=1e-3,
                     batch_size=128, lam=0.3, smoothing=0.1,
                     anchor_count=21, anchor_range=(-10.0, 10.0), tau=1.0, probe_every=3),
            unmix=dict(_UNMIX, dataset="samson", epochs=200, lr=1e-4, probe_every=20),
            fewshot=dict(_FEWSHOT, dataset="cifar10_jpeg", epochs=10, lr=0.05, episodes=2000, warmup_epochs=2),
            lams=(0.3, 1.0, 4.0),
            anchor_counts=(10, 100, 400),
            unmix_seeds=(0, 1, 2, 3, 4),
        ),
        "paper": _profile(
            tuple(range(10)), "auto",
            age=dict(dataset="utkface", model="resnet18", standardize=False, image_size=64, epochs=500, lr=1e-3,
                     batch_size=256, lam=0.3, smoothing=0.1,
                     anchor_count=100, anchor_range=(1.0, 100.0), tau=1.0, probe_every=10),
            unmix=dict(_UNMIX, dataset="samson", epochs=200, lr=1e-4),
            fewshot=dict(_FEWSHOT, dataset="cifar_fs", epochs=350, lr=0.1, episodes=10000),
            lams=(0.0, 0.3, 1.0, 2.0, 4.0, 8.0),
            anchor_counts=(10, 25, 50, 75, 100, 200),
            unmix_seeds=tuple(range(10)),
        ),
    },
))
# fmt: on


# --------------------------------------------------------------------------- tables

# fmt: off
TABLES: dict[str, dict[str, str]] = {
    "age": {"mse_test_final": "test MSE, last epoch (beta on train)",
            "mse_test_self_final": "test MSE, last epoch (beta on test: paper)",
            "mse_test_self_min": "test MSE, best epoch (paper)", "mse_class_mean": "class-mean baseline",
            "rise": "rise of the test MSE after the early epoch",
            "entropy_anchor": "feature entropy, last epoch [nats]", "test_acc": "coarse test accuracy"},
    "unmixing": {"raw_mse_test": "raw MSE, held-out blocks, last epoch",
                 "transfer_mse_test": "transfer MSE, held-out blocks, last epoch",
                 "raw_mse_train_min": "raw MSE, min over epochs on training pixels (paper)",
                 "transfer_mse_train_min": "transfer MSE, min over epochs on training pixels (paper)",
                 "train_acc": "coarse training accuracy", "test_acc": "coarse test accuracy"},
    "outputs": {"ece": "ECE", "mce": "MCE", "output_mi": "I(X; output) [nats]",
                "entropy_anchor": "anchor entropy [nats]", "entropy_knn": "k-NN entropy [nats]"},
    "epochs": {"r_anchor_knn": "r(anchor, k-NN entropy) over epochs",
               "r_entropy_transfer": "r(anchor entropy, transfer MSE) over epochs"},
    "fewshot": {"acc_1shot": "1-shot accuracy", "acc_5shot": "5-shot accuracy"},
}
# fmt: on
"""Columns (metric -> label) of the chapter's tables: Figure 1, Table 1, App. Table 1 (A.2) and
the entropies, App. A.4 over epochs (:func:`with_epoch_correlations`), Table 2."""

EPOCH_PAIRS: dict[str, tuple[str, str]] = {
    "r_anchor_knn": ("entropy_anchor", "entropy_knn"),
    "r_entropy_transfer": ("entropy_anchor", "transfer_mse_test"),
}
"""App. A.4 and §5 followed within each unmixing run: column -> the two history columns whose
Pearson r over the run's probed epochs after initialisation it holds."""


def frames(results: list[RunResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(metrics, history)``: one row per run, and the long history with ``criterion`` and ``seed``."""
    history = pd.concat(
        [r.history.assign(criterion=r.params["criterion"], seed=r.params["seed"]) for r in results], ignore_index=True
    )
    return results_frame(results), history


def with_rise(metrics: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Figure 1's metrics plus, per run, the held-out MSE at the early epoch, at the last, and the rise.

    The early epoch is the probed epoch (after initialisation) nearest to
    :data:`RISE_FROM` times the last epoch, fixed before looking at the curves. Unlike the
    last MSE minus the minimum over epochs, the rise ``mse_last - mse_early`` can be negative.
    """
    probed = history.dropna(subset=["mse_test"])
    epochs = np.array(sorted(e for e in probed.epoch.unique() if e > 0))
    early = int(epochs[np.argmin(np.abs(epochs - RISE_FROM * epochs.max()))])
    wide = probed.pivot_table(index=["criterion", "seed"], columns="epoch", values="mse_test")
    rise = pd.DataFrame({"mse_early": wide[early], "mse_last": wide[epochs.max()]}).reset_index()
    return metrics.merge(rise.assign(rise=rise.mse_last - rise.mse_early, early_epoch=early), on=["criterion", "seed"])


def with_epoch_correlations(metrics: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Table 1's metrics plus, per run, the :data:`EPOCH_PAIRS` correlations over its probed epochs.

    As the paper follows the entropy along one training (App. A.4), each run gives Pearson's
    r over its probed epochs after initialisation (epoch 0, the random network, left out: it
    alone would make any curve that leaves it correlate); the runs are then independent
    replicates of that r. NaN where a column is constant over the epochs.
    """
    probed = history.dropna(subset=["transfer_mse_test"])
    probed = probed[probed.epoch > 0]
    rows = []
    for (criterion, seed), run in probed.groupby(["criterion", "seed"]):
        row = {"criterion": criterion, "seed": seed}
        for name, (x, y) in EPOCH_PAIRS.items():
            u, v = run[x].to_numpy(float), run[y].to_numpy(float)
            ok = len(u) >= 3 and np.ptp(u) > 0 and np.ptp(v) > 0
            row[name] = float(np.corrcoef(u, v)[0, 1]) if ok else np.nan
        rows.append(row)
    return metrics.merge(pd.DataFrame(rows, columns=["criterion", "seed", *EPOCH_PAIRS]), on=["criterion", "seed"])


def table(metrics: pd.DataFrame, which: str) -> pd.DataFrame:
    """Mean ± 95% CI over seeds per criterion of the columns :data:`TABLES` ``[which]``."""
    return report.mean_ci_table(metrics, "criterion", TABLES[which], order=CRITERIA)


def sweep_table(lambdas: list[RunResult], anchor_counts: list[RunResult], variants: list[RunResult]) -> pd.DataFrame:
    """App. A.1: one row per sweep point (``sweep``, ``value``) with the run's metrics (one seed)."""
    rows = [{"sweep": "lambda", "value": r.params["lam"], **r.metrics} for r in lambdas]
    rows += [{"sweep": "anchors", "value": r.params["anchor_count"], **r.metrics} for r in anchor_counts]
    rows += [{"sweep": "variant", "value": f"{r.params['similarity']}, {r.params['anchor_kind']}", **r.metrics}
             for r in variants]  # fmt: skip
    return pd.DataFrame(rows)


def benchmark_table(folder: str | Path) -> pd.DataFrame:
    """Committed results of ``benchmarks/fierce_step.py`` (``fierce_step_*.json`` in ``folder``), per device."""
    rows = []
    for path in sorted(Path(folder).glob("fierce_step_*.json")):
        res = json.loads(path.read_text())
        prov = res.get("provenance", {})
        rows.append(
            {
                "device": prov.get("device", path.stem.rsplit("_", 1)[-1]),
                "CE step [ms]": round(1e3 * res["median_step_s"]["ce"], 1),
                "FIERCE step [ms]": round(1e3 * res["median_step_s"]["fierce"], 1),
                "FIERCE / CE": round(res["overhead_ratio"], 3),
                "batch": "x".join(map(str, res["batch"])),
                "steps": res["steps"],
                "commit": (prov.get("git_commit") or "")[:8],
                "measured": prov.get("finished_at", ""),
            }
        )
    return pd.DataFrame(rows)


MAJORITY = {"age": 0.52, "fewshot": 0.21, "cifar_fs": 1 / 64}
"""Largest class share of the training labels: the median split of the ages (ties at the median
give one class up to 0.51), five base classes (digits, CIFAR-10), the 64 base classes of CIFAR-FS."""
CHECKS: dict[str, tuple[report.Check, ...]] = {
    "age": (
        report.above_majority("train_acc", MAJORITY["age"], margin=0.1),
        report.above_majority("test_acc", MAJORITY["age"], margin=0.1),
        report.spread("test_feature", minimum=1e-3),
    ),
    "unmix": (
        report.above_majority("train_acc", lambda run: run.metrics["train_majority"]),
        report.at_least("feature_spread", 1e-3, "feature spread"),
        report.at_least("entropy_anchor", 1e-6, "anchor entropy"),
    ),
    "fewshot": (
        report.above_majority(
            "train_acc", lambda run: MAJORITY.get(run.params["dataset"], MAJORITY["fewshot"]), margin=0.1
        ),
    ),
}
"""What a working run is, per grid, declared before the runs: Figure 1's runs leave the majority
class by 0.10 on the training and on the test images and their 1-D feature is not constant (a
constant feature makes the OT read-out a tie-break); Table 1's networks leave the majority
material of their training pixels (their recorded rate) by 0.05, their held-out features vary
across pixels (mean standard deviation per unit above 1e-3) and spread over more than one
anchor; Table 2's networks learn their base classes (training accuracy 0.10 above the majority)."""


def validity(results: list[RunResult], gid: str) -> report.Validity:
    """:data:`CHECKS` ``[gid]`` on the runs of grid ``gid`` (:func:`c2f_utils.report.valid_runs`)."""
    return report.valid_runs(results, CHECKS[gid], label=lambda r: f"{r.params['criterion']} seed {r.params['seed']}")


def scorecard(
    age: pd.DataFrame,
    unmix: pd.DataFrame,
    fewshot: pd.DataFrame,
    config,
    validity: dict[str, report.Validity] | None = None,
) -> pd.DataFrame:
    """Each claim of the paper with the book's verdict (:mod:`c2f_utils.report`).

    ``age`` comes from :func:`with_rise`; the frames hold the valid runs only, and
    ``validity`` (per grid: ``"age"``, ``"unmix"``, ``"fewshot"``) lists every run with why
    it was excluded. Criteria trained from the same seed share the initialisation and the
    batch order, so comparisons between criteria (and between two epochs of one run) are
    paired by seed. Correlations are taken over independent trained runs: one point per
    criterion and seed, at the last epoch, counted by distinct seeds.
    """
    frames_by = {"age": age, "unmix": unmix, "fewshot": fewshot}

    def col(group: str, criterion: str, metric: str) -> list[float]:
        frame = frames_by[group]
        return frame[frame.criterion == criterion].sort_values("seed")[metric].tolist() if len(frame) else []

    def paired(test, group: str, metric: str, a: str, b: str, metric_b: str | None = None) -> report.Finding:
        digits = 5 if metric.startswith("transfer_mse") else 3  # transfer MSEs are ~1e-3: three decimals read 0.001
        if metric_b is None:
            return report.compare(test, frames_by[group], metric, "criterion", a, b, digits=digits)
        return report.judge(test, col(group, a, metric), col(group, b, metric_b), paired=True, digits=digits)

    def correlated(group: str, x: str, y: str, sign: int) -> report.Finding:
        frame = frames_by[group]
        if frame.empty:
            return report.not_tested("0 valid seeds, fewer than 3")
        return report.correlated(frame[x], frame[y], sign=sign, seeds=frame.seed)

    def over_epochs(test, column: str) -> report.Finding:
        frame = unmix.dropna(subset=[column]) if column in unmix else unmix.iloc[:0]
        return report.judge(test, frame[column].tolist() if len(frame) else [], value=0.0, paired=False,
                            seeds=frame.seed.tolist() if len(frame) else None, digits=2)  # fmt: skip

    less, greater = report.less, report.greater
    early = f"epoch {int(age.early_epoch.iloc[0])}" if len(age) else "the early epoch"
    cifar_fs = config.profile == "paper" and config["fewshot.dataset"] == "cifar_fs"
    fierce_1shot = col("fewshot", "fierce", "acc_1shot")
    houston = col("unmix", "fierce", "transfer_mse_test")
    # fmt: off
    rows = [
        ("age", "Fig. 1: FIERCE ends with a lower fine MSE than CE", "Fig. 1 (UTKFace): lowest MSE for FIERCE",
         paired(less, "age", "mse_test_final", "fierce", "ce"), ("fierce", "ce")),
        ("age", "Fig. 1: FIERCE ends with a lower fine MSE than LS", "Fig. 1: LS worse than CE and FIERCE",
         paired(less, "age", "mse_test_final", "fierce", "ls"), ("fierce", "ls")),
        ("age", f"Fig. 1: with CE the fine MSE rises after {early} (= {RISE_FROM:g} x training, declared)",
         "minimum near epoch 50 of 500, then a rise", paired(greater, "age", "mse_last", "ce", "ce", "mse_early"),
         ("ce",)),
        ("age", "Fig. 1: FIERCE keeps its MSE (no early stopping needed): smaller rise than CE",
         "FIERCE's MSE stays at its minimum", paired(less, "age", "rise", "fierce", "ce"), ("fierce", "ce")),
        ("age", "Fig. 1, §5.1: more feature entropy, lower fine MSE (across trained runs)",
         "strongly (negatively) correlated", correlated("age", "entropy_anchor", "mse_test_final", -1), CRITERIA),
        *[row for protocol, suffix in (("held-out blocks, last epoch", "_test"),
                                       ("paper's protocol: min over epochs, training pixels", "_train_min"))
          for row in (
            ("unmix", f"Table 1: FIERCE transfer MSE < CE ({protocol})",
             "0.006 ± 0.001 vs 0.200 (CE; 0.177 in the GRETSI version)",
             paired(less, "unmix", f"transfer_mse{suffix}", "fierce", "ce"), ("fierce", "ce")),
            ("unmix", f"Table 1: FIERCE transfer MSE < LS ({protocol})", "0.006 ± 0.001 vs 0.017 ± 0.08",
             paired(less, "unmix", f"transfer_mse{suffix}", "fierce", "ls"), ("fierce", "ls")),
            ("unmix", f"Table 1: LS raw MSE < CE raw MSE ({protocol})", "0.066 ± 0.1 vs 0.200",
             paired(less, "unmix", f"raw_mse{suffix}", "ls", "ce"), ("ls", "ce")),
            ("unmix", f"Table 1: FIERCE raw MSE < CE raw MSE ({protocol})", "0.130 ± 0.008 vs 0.200",
             paired(less, "unmix", f"raw_mse{suffix}", "fierce", "ce"), ("fierce", "ce")),
          )],
        ("unmix", "§5: more feature entropy, lower transfer MSE (across trained runs)",
         "entropy correlated with the ability to recycle the features",
         correlated("unmix", "entropy_anchor", "transfer_mse_test", -1), CRITERIA),
        ("unmix", "§5: within each run, more feature entropy, lower transfer MSE (r over epochs < 0)",
         "entropy correlated with the ability to recycle the features",
         over_epochs(less, "r_entropy_transfer"), CRITERIA),
        ("unmix", "App. A.4: the anchor estimate follows the feature entropy (k-NN estimate, across trained runs)",
         "correlation 0.86 (over the epochs of one CE run)",
         correlated("unmix", "entropy_anchor", "entropy_knn", 1), CRITERIA),
        ("unmix", "App. A.4: within each run, the anchor estimate follows the k-NN entropy (r over epochs > 0)",
         "correlation 0.86 (over the epochs of one CE run)", over_epochs(greater, "r_anchor_knn"), CRITERIA),
        ("fewshot", "Table 2: FIERCE 1-shot accuracy > CE", "CIFAR-FS 66.16 ± 1.04 vs CE 64.32 ± 0.7",
         paired(greater, "fewshot", "acc_1shot", "fierce", "ce"), ("fierce", "ce")),
        ("fewshot", "Table 2: FIERCE 1-shot accuracy > LS", "CIFAR-FS 66.16 ± 1.04 vs LS 65.76 ± 0.57",
         paired(greater, "fewshot", "acc_1shot", "fierce", "ls"), ("fierce", "ls")),
        ("fewshot", "Table 2: FIERCE's 1-shot accuracy on CIFAR-FS", "66.16 ± 1.04 % (tolerance: the paper's ± 1.04)",
         report.judge(report.paper_check, fierce_1shot, paper=0.6616, tolerance=0.0104, scale_matches=cifar_fs),
         ("fierce",)),
        ("unmix", "Table 1: FIERCE's transfer MSE on Houston", "0.006 ± 0.001 (the Houston crop is not distributed)",
         report.judge(report.paper_check, houston, paper=0.006, tolerance=0.001, scale_matches=False, digits=5),
         ("fierce",)),
    ]
    # fmt: on
    seeds = {g: config["unmix.seeds" if g == "unmix" else "seeds"] for g in frames_by}
    where = {g: report.where(config.profile, config[f"{g}.dataset"], seeds[g]) for g in frames_by}
    checked = validity or {}
    claims = [
        report.Claim(
            claim, finding, where[g], paper, None if g not in checked else checked[g].where(criterion=criteria)
        )
        for g, claim, paper, finding, criteria in rows
    ]
    return report.scorecard(claims)


# --------------------------------------------------------------------------- figures


# fmt: off
CURVES: dict[str, dict[str, tuple[str, str]]] = {
    "age": {"mse_test": ("fine MSE (1-D OT read-out)", "test MSE"),
            "entropy_anchor": ("feature entropy (anchors)", "entropy [nats]"),
            "test_acc": ("coarse test accuracy", "accuracy")},
    "unmixing": {"raw_mse_test": ("raw MSE", "test MSE"), "transfer_mse_test": ("transfer MSE", "test MSE"),
                 "entropy_anchor": ("anchor entropy", "nats"), "entropy_knn": ("k-NN entropy", "nats")},
}
# fmt: on
"""Panels (history column -> title, y label) of Figure 1 and of the unmixing curves."""


_KINDS = {"age": "age", "unmix": "unmixing", "fewshot": "fewshot"}


def _grid_frames(config: Config, gid: str, results: list[RunResult] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    results = config.results(gid) if results is None else results
    if not results:  # every run invalid
        return pd.DataFrame(columns=["criterion", "seed"]), pd.DataFrame(columns=["criterion", "seed", "epoch"])
    metrics, history = frames(results)
    if gid == "unmix":
        return with_epoch_correlations(metrics, history), history
    return (with_rise(metrics, history) if gid == "age" else metrics), history


def results_table(config: Config, gid: str, which: str | None = None) -> pd.DataFrame:
    """:func:`table` of grid ``gid`` (``"age"``, ``"unmix"`` or ``"fewshot"``) from the runs of ``config``.

    ``which``: the :data:`TABLES` entry, by default the grid's own; the unmixing grid also has
    ``"outputs"`` (App. Table 1) and ``"epochs"`` (App. A.4 within each run).
    """
    if gid not in _KINDS:
        raise ValueError(f"Expected `gid` in {list(_KINDS)}, got {gid!r}")
    allowed = (_KINDS[gid], "outputs", "epochs") if gid == "unmix" else (_KINDS[gid],)
    which = _KINDS[gid] if which is None else which
    if which not in allowed:
        raise ValueError(f"Expected `which` in {list(allowed)} for grid {gid!r}, got {which!r}")
    return table(_grid_frames(config, gid)[0], which)


def results_figure(config: Config, which: str):
    """An appendix figure from the runs of ``config`` (live or committed), first seed of its grid.

    ``which``: ``"sweeps"`` (App. Figs 1-2, :func:`plot_sweeps`), ``"reliability"`` (App. Fig. 3,
    :func:`plot_reliability`), ``"tsne"`` (App. Fig. 4, :func:`plot_tsne`) or ``"age_features"``
    (App. Fig. 5, :func:`plot_age_features`).
    """
    choices = ("sweeps", "reliability", "tsne", "age_features")
    if which not in choices:
        raise ValueError(f"Expected `which` in {list(choices)}, got {which!r}")
    if which == "sweeps":
        return plot_sweeps(sweep_table(*(config.results(g) for g in ("lambdas", "anchor_counts", "variants"))))
    if which == "age_features":
        return plot_age_features(config.results("age"), config["seeds"][0])
    draw = plot_reliability if which == "reliability" else plot_tsne
    return draw(config.results("unmix"), config["unmix.seeds"][0])


SWEEP_COLUMNS = ("raw_mse_test", "transfer_mse_test", "raw_mse_train_min", "transfer_mse_train_min", "train_acc",
                 "entropy_anchor")  # fmt: skip
"""Columns of :func:`results_sweeps`: both protocols' MSEs, the training accuracy and the entropy."""


def results_sweeps(config: Config) -> pd.DataFrame:
    """App. A.1: :func:`sweep_table` of the appendix sweeps of ``config`` (live or committed), one
    row per (sweep, value), the :data:`SWEEP_COLUMNS` rounded to 4 decimals."""
    sweeps = sweep_table(*(config.results(g) for g in ("lambdas", "anchor_counts", "variants")))
    return sweeps.set_index(["sweep", "value"])[list(SWEEP_COLUMNS)].round(4)


def results_curves(config: Config, gid: str):
    """:func:`plot_curves` of grid ``gid`` (``"age"`` or ``"unmix"``) from the runs of ``config``."""
    if gid not in ("age", "unmix"):
        raise ValueError(f"Expected `gid` in ['age', 'unmix'], got {gid!r}")
    title = f"{config.profile}: {config[f'{gid}.dataset']}, CE vs LS vs FIERCE"
    return plot_curves(_grid_frames(config, gid)[1], _KINDS[gid], title)


def results_checks(config: Config, gid: str) -> pd.DataFrame:
    """Every run of grid ``gid`` (``"age"`` or ``"fewshot"``) with its final accuracies and the
    :data:`CHECKS` it failed (``failed`` empty: valid), from the runs of ``config``."""
    if gid not in ("age", "fewshot"):
        raise ValueError(f"Expected `gid` in ['age', 'fewshot'], got {gid!r}")
    checked = validity(config.results(gid), gid)
    rows = []
    for run, failed in zip(checked.runs, checked.failures, strict=True):
        row = {"criterion": run.params["criterion"], "seed": run.params["seed"]}
        row["train_acc"] = report.final(run, "train_acc")
        if gid == "age":
            row["test_acc"] = report.final(run, "test_acc")
            row["feature_std"] = float(np.std(run.arrays["test_feature"]))
        rows.append({**row, "failed": "; ".join(reason for _, reason in failed)})
    return pd.DataFrame(rows, columns=None if rows else ["criterion", "seed", "train_acc", "failed"])


def card(config: Config) -> pd.DataFrame:
    """:func:`scorecard` of the valid runs of ``config`` (live or committed), listing the others."""
    checked = {g: validity(config.results(g), g) for g in ("age", "unmix", "fewshot")}
    valid = (_grid_frames(config, g, checked[g].valid)[0] for g in ("age", "unmix", "fewshot"))
    return scorecard(*valid, config, checked)


def plot_curves(history: pd.DataFrame, which: str, title: str = ""):
    """The columns :data:`CURVES` ``[which]`` over epochs, per criterion (mean and 95% CI over seeds)."""
    from ...plots import plot_over_epochs

    panels = CURVES[which]
    titles, ylabels = zip(*panels.values(), strict=True)
    probed = history.dropna(subset=[next(iter(panels))])
    fig, _ = plot_over_epochs(probed, list(panels), hue="criterion", titles=titles, ylabels=ylabels)
    if title:
        fig.suptitle(title, y=1.03)
    return fig


def _panels(results: list[RunResult], seed: int, width: float, height: float, **kw: Any):
    """One panel per criterion of ``seed``, in a row of at most three narrowed to the page width."""
    from ...plots import MAX_WIDTH, panel_grid

    chosen = [r for r in results if r.params["seed"] == seed]
    narrow = min(width, MAX_WIDTH / min(len(chosen), 3))
    fig, axes = panel_grid(len(chosen), panel=(narrow, height * narrow / width), **kw)
    for ax, r in zip(axes, chosen, strict=True):
        ax.set_title(r.params["criterion"])
    return fig, axes, chosen


def plot_age_features(results: list[RunResult], seed: int):
    """App. A.3, Figure 5: the 1-D feature against the fine target, per criterion (one seed)."""
    fig, axes, chosen = _panels(results, seed, 4, 3.2)
    for ax, r in zip(axes, chosen, strict=True):
        ax.scatter(r.arrays["test_target"], r.arrays["test_feature"], s=3, alpha=0.4)
        ax.set_xlabel("fine target")
    axes[0].set_ylabel("1-D feature")
    fig.tight_layout()
    return fig


def results_age_features(config: Config):
    """:func:`plot_age_features` of the first seed of ``config``'s Figure 1 runs (valid or not)."""
    return plot_age_features(config.results("age"), config["seeds"][0])


def plot_reliability(results: list[RunResult], seed: int, n_bins: int = 10):
    """App. A.2, Figure 3: reliability diagrams of the unmixing classifiers (one seed)."""
    from ... import probes as c2f_probes

    fig, axes, chosen = _panels(results, seed, 3.6, 3.4, sharey=True)
    for ax, r in zip(axes, chosen, strict=True):
        diag = c2f_probes.reliability_diagram(r.arrays["test_probs"], r.arrays["test_abundances"].argmax(1), n_bins)
        width = diag.bin_high - diag.bin_low
        ax.bar(diag.bin_low, diag.accuracy, width=width, align="edge", edgecolor="k", alpha=0.7, label="accuracy")
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set_xlabel("confidence")
    axes[0].set_ylabel("accuracy")
    fig.tight_layout()
    return fig


def plot_tsne(results: list[RunResult], seed: int, n_points: int = 1000):
    """App. A.3, Figure 4: t-SNE (scikit-learn) of the test features, coloured by dominant material."""
    import seaborn as sns
    from sklearn.manifold import TSNE

    fig, axes, chosen = _panels(results, seed, 4, 4)
    for ax, r in zip(axes, chosen, strict=True):
        feats, abund = r.arrays["test_features"], r.arrays["test_abundances"]
        rows = np.random.default_rng(seed).choice(len(feats), min(n_points, len(feats)), replace=False)
        emb = TSNE(n_components=2, init="pca", random_state=seed, perplexity=30).fit_transform(feats[rows])
        sns.scatterplot(
            x=emb[:, 0], y=emb[:, 1], hue=abund[rows].argmax(1), size=abund[rows].max(1), sizes=(2, 25),
            palette="tab10", ax=ax, legend=False, linewidth=0,
        )  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_sweeps(sweeps: pd.DataFrame):
    """App. A.1, Figures 1-2: held-out raw and transfer MSE vs lambda and vs the number of anchors."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (sweep, xlabel) in zip(axes, (("lambda", "lambda"), ("anchors", "number of anchors e")), strict=True):
        sub = sweeps[sweeps.sweep == sweep].sort_values("value")
        x = sub.value.astype(float)
        ax.plot(x, sub.raw_mse_test, "o-", color="tab:red", label="raw MSE")
        ax.plot(x, sub.transfer_mse_test, "o-", color="tab:blue", label="transfer MSE")
        ax.set_xscale("symlog" if sweep == "lambda" else "log", **({"linthresh": 0.3} if sweep == "lambda" else {}))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("held-out MSE")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig
