"""Figure 1 of "FIERCE": a 1-D feature trained on a median split, the fine target read off it.

:class:`AgeRun` trains a network with a one-dimensional feature on the median split of a
continuous target (age; quick: the size of a drawn ellipse) and probes, every few epochs, the
MSE of the 1-D optimal-transport read-out and the entropy of the feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...experiments import param
from ...runs import RunOutput
from .experiments import CriterionRun

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ... import data as c2f_data
    from ... import train as c2f_train

__all__ = ["AGE_NETWORKS", "AgeData", "AgeRun"]

AGE_NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    "resnet18": ("resnet18", {"base_width": 16, "feature_dim": 1}),
    "cnn": ("resnet", {"stage_widths": (8, 16, 32), "blocks_per_stage": (1, 1, 1), "shortcut": "B", "feature_dim": 1}),
    "mlp": ("mlp", {"hidden": (128, 32), "feature_dim": 1, "activation": "tanh"}),
}
"""The age networks (:class:`AgeRun`), ``model -> (models.create name, options)``: the official age
ResNet-18 (base width 16, 1-D feature), ``cnn``, the official network scaled to a CPU (three residual
stages of one basic block, 8, 16, 32 channels, batch norm, whose 1-D feature is, as in the official model,
the mean of the last feature maps through a learnable affine map), and a tanh MLP ``pixels-128-32-1``."""


@dataclass(frozen=True)
class AgeData:
    """The data of one :class:`AgeRun`: the pair the network is fit on (``train``: the images it
    sees, :meth:`AgeRun.inputs`, and their median-split class), the test images and classes, both
    labeled splits (their ``fine`` target) and the mean fine target of each class."""

    train: tuple[Tensor, Tensor]
    x_test: Tensor
    y_test: Tensor
    train_split: c2f_data.LabeledData
    test_split: c2f_data.LabeledData
    class_means: np.ndarray


@dataclass(frozen=True)
class AgeRun(CriterionRun):
    """Train on the median split with a 1-D feature; probe MSE and entropy over epochs (Figure 1).

    History columns per probed epoch: ``mse_test`` (OT read-out on test images, beta
    chosen on the training images), ``mse_test_self`` (beta chosen on the test images:
    the paper's protocol), ``mse_train_self`` (on training images, the official code's),
    ``beta_self``, ``mse_class_mean``, ``entropy_anchor`` (hard assignment to the grid
    anchors, nats; the same grid for every criterion), ``entropy_hist`` (histogram
    differential entropy of the standardised feature) and ``test_acc``.

    The field ``model`` names the network of :data:`AGE_NETWORKS` that :meth:`build_model` builds.
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

    def build_model(self, data: AgeData) -> nn.Module:
        """The network for the run's images (:meth:`network_for`)."""
        return self.network_for(tuple(data.train_split.x.shape[1:]))

    def network_for(self, in_shape: tuple[int, ...]) -> nn.Module:
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

    def data(self) -> AgeData:
        """Both splits (:meth:`load_data`), the images the network sees (:meth:`inputs`), their
        median-split classes and the mean fine target of each class."""
        import torch

        train, test = self.load_data()
        x_train, x_test = self.inputs(train, test)
        y_train, y_test = train.labels("median"), test.labels("median")
        class_means = torch.stack([train.fine[y_train == c].mean() for c in (0, 1)]).numpy()
        return AgeData((x_train, y_train), x_test, y_test, train, test, class_means)

    def probes(self, data: AgeData, criterion: nn.Module) -> list[c2f_train.Callback]:
        """Every ``probe_every`` epochs and at the last: the OT read-out of the fine target off the
        1-D feature (:func:`~c2f_utils.probes.ot_regression_1d`), the feature's entropies (grid
        anchors of ``anchor_range``, and a histogram) and the test accuracy; the criterion's own."""
        import torch

        from ... import losses as c2f_losses
        from ... import probes as c2f_probes
        from ... import train as c2f_train

        (x_train, _), x_test, y_test = data.train, data.x_test, data.y_test
        train, test, class_means = data.train_split, data.test_split, data.class_means
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

        return [probe, *c2f_losses.callbacks(criterion)]

    def outcome(self, data: AgeData, result: c2f_train.TrainResult) -> RunOutput:
        """The last probe's MSEs (and their minima over epochs), entropy and accuracy; the test
        images' 1-D feature and fine target (arrays); the history."""
        from ... import train as c2f_train

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
        feature = c2f_train.extract_features(result.model, data.x_test, device=self.device).features[:, 0].numpy()
        arrays = {"test_feature": feature, "test_target": data.test_split.fine.numpy()}
        return RunOutput({k: float(v) for k, v in metrics.items()}, result.history, arrays)
