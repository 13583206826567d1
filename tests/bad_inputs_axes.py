"""Round two of the bad-input sweep (issue 30): other dtypes, extreme scales, degenerate geometry,
duplicates, user files with odd content, and the runner.

Two kinds of additions:

- *axis spoils* of the roles the other call files declare (``add_axis_spoil``), so that every
  public function with, say, a ``"features"`` argument is also called with float16, bfloat16 and
  1e-200 ... 1e200 features: ``valid`` where the documented contract accepts the value (then the
  result must be finite), ``edge`` where a clear refusal is as good (a module's forward refuses a
  dtype other than its parameters'), ``bad`` where it must be refused;
- *calls* of their own, for what no role expresses: a loss's gradient, a result checked against
  an independent reference (a :class:`~bad_inputs.Wrong` result is ``silent``), a data file
  written with odd content, the command line with its heavy parts stubbed out.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from bad_inputs import Call, Role, Wrong, add_axis_spoil, add_role
from bad_inputs_api import D, K, N, _features, _labels, _logits
from PIL import Image
from scipy.io import savemat

from c2f_utils import data, losses, probes, run
from c2f_utils.data.folders import image_regression_folder

# --------------------------------------------------------------------------- value helpers


def _torch(v: Any) -> torch.Tensor:
    return v.clone() if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))


def _dtype(name: str) -> Any:
    """A spoil: ``v`` in torch dtype ``name`` (a tensor; bfloat16 has no NumPy dtype), or in
    NumPy dtype ``name`` for arrays."""

    def spoil(v: Any) -> Any:
        if isinstance(v, torch.Tensor) or name == "bfloat16":
            return _torch(v).to(getattr(torch, name))
        return np.asarray(v).astype(name)

    return spoil


def _scaled(factor: float, dtype: str | None = None) -> Any:
    """A spoil: ``v`` times ``factor`` (in ``dtype`` first, e.g. float64 for 1e200)."""

    def spoil(v: Any) -> Any:
        t = _torch(v)
        if dtype is not None:
            t = t.to(getattr(torch, dtype))
        out = t * factor
        return out if isinstance(v, torch.Tensor) else out.numpy()

    return spoil


def _without_last_class(v: Any) -> Any:
    """Labels in which the highest class (K - 1) does not occur: an empty class."""
    t = _torch(v)
    out = torch.where(t == t.max(), torch.zeros_like(t), t)
    return out if isinstance(v, torch.Tensor) else out.numpy()


def _set_row(v: Any, row: int, values: Any) -> Any:
    out = v.numpy().copy() if isinstance(v, torch.Tensor) else np.array(v)
    out[row] = values
    return torch.as_tensor(out) if isinstance(v, torch.Tensor) else out


# --------------------------------------------------------------------------- axis spoils of shared roles

_FLOAT_DTYPES = (("float16", _dtype("float16")), ("bfloat16", _dtype("bfloat16")))
_SCALES = (
    ("x1e20", _scaled(1e20)),
    ("x1e-20", _scaled(1e-20)),
    ("f64_x1e200", _scaled(1e200, "float64")),
    ("f64_x1e-200", _scaled(1e-200, "float64")),
)
_LABEL_DTYPES_VALID = (("uint8", _dtype("uint8")), ("int16", _dtype("int16")))
_LABEL_DTYPES_EDGE = (("bool", _dtype("bool")), ("float_whole", _dtype("float32")))

for _role in ("features", "paired_features", "logits", "sample_1d", "maps", "targets"):
    for _label, _spoil in _FLOAT_DTYPES:
        add_axis_spoil(_role, "dtype", "valid", _label, _spoil)
for _role in ("paired_features", "targets"):
    add_axis_spoil(_role, "dtype", "valid", "float64", _dtype("float64"))
for _role in ("probs", "unpaired_probs"):
    add_axis_spoil(_role, "dtype", "valid", "float64", _dtype("float64"))
    for _label, _spoil in _FLOAT_DTYPES:  # rows of half-precision probabilities do not sum to 1 within 1e-4
        add_axis_spoil(_role, "dtype", "edge", _label, _spoil)
for _role in ("images", "mlp_inputs", "batch_features", "cost", "batched_cost", "square", "centres"):
    for _label, _spoil in (*_FLOAT_DTYPES, ("float64", _dtype("float64"))):
        add_axis_spoil(_role, "dtype", "edge", _label, _spoil)
for _role in ("labels", "paired_labels", "class_ids", "unbounded_labels", "optional_class_ids", "group_ids"):
    for _label, _spoil in _LABEL_DTYPES_VALID:
        add_axis_spoil(_role, "dtype", "valid", _label, _spoil)
    for _label, _spoil in _LABEL_DTYPES_EDGE:
        add_axis_spoil(_role, "dtype", "edge", _label, _spoil)
for _role in ("labels", "paired_labels", "class_ids"):
    add_axis_spoil(_role, "geometry", "edge", "empty_class", _without_last_class)
for _role in ("boxes", "paired_boxes"):
    for _label in ("uint8", "int16", "float64"):
        add_axis_spoil(_role, "dtype", "valid", _label, _dtype(_label))
    add_axis_spoil(_role, "geometry", "bad", "corner_outside", lambda v: _set_row(v, 0, [10, 0, 2, 8]))
    add_axis_spoil(_role, "geometry", "valid", "over_the_edge", lambda v: _set_row(v, 0, [6, 6, 4, 4]))
    add_axis_spoil(_role, "dtype", "bad", "bool", _dtype("bool"))
for _role in ("features", "paired_features", "logits", "sample_1d", "maps", "targets", "images", "mlp_inputs", "cost"):
    for _label, _spoil in _SCALES:
        add_axis_spoil(_role, "scale", "edge", _label, _spoil)
add_axis_spoil("sample_1d", "scale", "valid", "far_outlier", lambda v: _set_row(_dtype("float64")(v), 0, 1e12))
for _role in ("pos_float", "nonneg_float", "optional_pos_float"):
    for _label, _value in (("1e-200", 1e-200), ("1e200", 1e200), ("1e-39", 1e-39)):
        add_axis_spoil(_role, "scale", "edge", _label, lambda v, x=_value: x)
add_axis_spoil("float", "scale", "edge", "1e200", lambda v: 1e200)
add_axis_spoil("float", "scale", "edge", "-1e200", lambda v: -1e200)
# ot_regression_1d's validation triple: its predicted classes index the class means too
add_axis_spoil(
    "split", "geometry", "bad", "negative_class", lambda v: (v[0], _set_row(v[1], 0, -1), v[2])
)  # fmt: skip
add_axis_spoil(
    "split", "geometry", "bad", "class_out_of_range", lambda v: (v[0], _set_row(v[1], 0, 3), v[2])
)  # fmt: skip
# a dataset pair of another dtype: cast to the model's (inputs), int64 (labels)
add_axis_spoil("dataset_pair", "dtype", "valid", "float64_inputs", lambda v: (v[0].double(), v[1]))
add_axis_spoil("dataset_pair", "dtype", "valid", "float16_inputs", lambda v: (v[0].half(), v[1]))
add_axis_spoil("dataset_pair", "dtype", "valid", "bfloat16_inputs", lambda v: (v[0].bfloat16(), v[1]))
add_axis_spoil("dataset_pair", "dtype", "valid", "bool_labels", lambda v: (v[0], (v[1] % 2).bool()))
add_axis_spoil("dataset_pair", "dtype", "valid", "uint8_labels", lambda v: (v[0], v[1].to(torch.uint8)))
add_axis_spoil("dataset_pair", "dtype", "edge", "float_labels", lambda v: (v[0], v[1].float()))
add_axis_spoil("dataset_pair", "dtype", "bad", "uint8_inputs", lambda v: (v[0].to(torch.uint8), v[1]))  # scaled how?
add_axis_spoil("dataset_pair", "scale", "edge", "f64_x1e200_inputs", lambda v: (v[0].double() * 1e200, v[1]))
add_axis_spoil("device_name", "runner", "bad", "mps_here", lambda v: "mps")
add_axis_spoil("device_name", "runner", "bad", "second_gpu", lambda v: "cuda:1")
add_axis_spoil("torch_device", "runner", "bad", "second_gpu", lambda v: "cuda:1")
add_axis_spoil("device", "runner", "bad", "mps_here", lambda v: "mps")
add_axis_spoil("seed_list", "duplicates", "bad", "repeated", lambda v: [v[0]] * 3)


# --------------------------------------------------------------------------- roles of this file


def _role(name: str, bad: tuple = (), valid: tuple = (), edge: tuple = ()) -> None:
    add_role(name, Role(tuple(bad), tuple(valid), tuple(edge)))


def _axis_role(name: str, axis: str, bad: tuple = (), valid: tuple = (), edge: tuple = ()) -> None:
    """A role of this file whose every spoil lies on ``axis``."""
    add_role(name, Role(()))
    for kind, spoils in (("bad", bad), ("valid", valid), ("edge", edge)):
        for label, spoil in spoils:
            add_axis_spoil(name, axis, kind, label, spoil)


# --------------------------------------------------------------------------- gradients


def _fierce_backward(features: torch.Tensor, tau: float, similarity: str) -> tuple[torch.Tensor, torch.Tensor]:
    """FIERCE's loss and the gradient of its features: both must be finite."""
    loss = losses.FIERCELoss(D, n_anchors=5, tau=tau, similarity=similarity, generator=torch.Generator().manual_seed(0))
    leaf = features.detach().clone().requires_grad_(True)
    value = loss(_logits(), leaf, _labels())
    value.backward()
    return value.detach(), leaf.grad


def _kd_backward(student_logits: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = student_logits.detach().clone().requires_grad_(True)
    value = losses.kd_loss(leaf, _features(N, K, seed=3), temperature=temperature, divergence="kl", t2_scaling=True)
    value.backward()
    return value.detach(), leaf.grad


def _tfkd(temperature: float, logits: torch.Tensor) -> torch.Tensor:
    return losses.TFKDReg(K, temperature=temperature)(logits, _labels())


def _ot_value(features: torch.Tensor) -> torch.Tensor:
    return losses.OTRegularizer()(features, _features(seed=4).to(features.dtype))


_axis_role(
    "backward_features",
    "scale",
    edge=_SCALES,
    valid=(*_FLOAT_DTYPES, ("float64", _dtype("float64"))),
)
_axis_role("half_features", "dtype", valid=(("float16_x1e4", lambda v: (v * 1e4).half()), *_FLOAT_DTYPES))
_axis_role(
    "temperature",
    "scale",
    bad=(("1e-39", lambda v: 1e-39), ("1e-200", lambda v: 1e-200), ("1e200", lambda v: 1e200)),
    valid=(("0.02", lambda v: 0.02), ("100", lambda v: 100.0)),
)

# --------------------------------------------------------------------------- results checked against a reference


def _box_area_checked(boxes: Any, height: int = 224, width: int = 224) -> Any:
    """box_area_fraction against a painted mask (int64 Python arithmetic, clipped to the image)."""
    got = probes.box_area_fraction(boxes, height, width)
    want = []
    for top, left, h, w in np.asarray(torch.as_tensor(boxes) if isinstance(boxes, torch.Tensor) else boxes).tolist():
        mask = np.zeros((height, width), bool)
        mask[int(top) : int(top) + int(h), int(left) : int(left) + int(w)] = True
        want.append(mask.mean())
    return got if np.allclose(got, want, rtol=0, atol=1e-12) else Wrong(f"{got} != {want}")


def _box_mass_checked(boxes: Any) -> Any:
    """box_mass of uniform maps equals the painted box's area fraction."""
    maps = np.ones((len(boxes), 224, 224))
    got = probes.box_mass(maps, boxes)
    want = _box_area_checked(boxes)
    return got if not isinstance(want, Wrong) and np.allclose(got, want, atol=1e-12) else Wrong(f"{got} != {want}")


def _boxes_224() -> np.ndarray:
    return np.array([[150, 0, 120, 224], [0, 0, 224, 224], [10, 20, 30, 40]])


_axis_role(
    "boxes_224",
    "geometry",
    bad=(
        ("corner_outside", lambda v: _set_row(v, 0, [230, 0, 2, 8])),
        ("negative_corner", lambda v: _set_row(v, 0, [-5, 0, 20, 8])),
    ),
    valid=(
        ("uint8_wrap", _dtype("uint8")),
        ("int16", _dtype("int16")),
        ("float64", _dtype("float64")),
        ("tensor_uint8", lambda v: torch.as_tensor(v, dtype=torch.uint8)),
        ("huge_size", lambda v: _set_row(_dtype("float64")(v), 1, [0, 0, 1e200, 1e200])),
    ),
)


def _ridge_checked(targets: np.ndarray) -> Any:
    """ridge_probe's test MSE against scikit-learn's on the same targets made 2-D."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = _features(40, D, seed=20).numpy()
    xt = _features(40, D, seed=21).numpy()
    y2 = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x, y2)
    want = float(np.mean((model.predict(xt).reshape(y2.shape) - y2) ** 2))
    got = probes.ridge_probe(x, targets, xt, targets, alpha=1.0).test_score
    return got if np.isclose(got, want, rtol=1e-9) else Wrong(f"{got} != {want}")


def _ridge_targets() -> np.ndarray:
    x = _features(40, D, seed=20).numpy()
    return x @ np.arange(1.0, D + 1) + 0.1


_axis_role(
    "ridge_targets",
    "geometry",
    valid=(
        ("column", lambda v: v[:, None]),
        ("two_columns", lambda v: np.stack([v, -v], 1)),
        ("float16_column", lambda v: v[:, None].astype(np.float16)),
    ),
)

# --------------------------------------------------------------------------- user files


def _png(path: Path, value: int) -> None:
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(path)


@contextlib.contextmanager
def _cache() -> Any:
    """A fresh C2F_CACHE_DIR for one call (decoded files are cached by content)."""
    with tempfile.TemporaryDirectory(prefix="c2f-cache-") as folder, mock.patch.dict(os.environ, C2F_CACHE_DIR=folder):
        yield


def _image_folder(targets: list[str], target_column: str | None = None) -> Any:
    """``image_regression_folder`` on 8 images whose CSV holds the lines ``targets``."""
    folder = Path(tempfile.mkdtemp(prefix="c2f-images-"))
    for i in range(8):
        _png(folder / f"img{i}.png", 30 * i)
    csv_path = folder / "targets.csv"
    csv_path.write_text("\n".join(targets) + "\n")
    with _cache():
        return image_regression_folder(
            "train", folder, targets=csv_path, target_column=target_column, size=8, test_fraction=0.25
        )


def _csv_lines() -> list[str]:
    return ["file,age", *(f"img{i}.png,{20 + 3 * i}" for i in range(8))]


def _with_line(v: list[str], index: int, line: str) -> list[str]:
    return [*v[:index], line, *v[index + 1 :]]


_axis_role(
    "csv_lines",
    "files",
    bad=(
        ("nan_target", lambda v: _with_line(v, 3, "img2.png,nan")),
        ("inf_target", lambda v: _with_line(v, 3, "img2.png,inf")),
        ("huge_target", lambda v: _with_line(v, 3, "img2.png,1e200")),
        ("header_only", lambda v: v[:1]),
        ("not_a_number", lambda v: _with_line(v, 3, "img2.png,old")),
    ),
    valid=(("extra_column", lambda v: [f"{line},x" for line in v]),),
)
add_axis_spoil("csv_lines", "duplicates", "bad", "duplicated_row", lambda v: [*v, v[2]])
add_axis_spoil("csv_lines", "duplicates", "bad", "same_image_twice", lambda v: [*v, "./img1.png,99"])


def _scene() -> dict[str, Any]:
    """A small synthetic unmixing scene, as the arrays of a ``.mat`` file (Samson's names)."""
    rng = np.random.default_rng(0)
    abundances = rng.dirichlet(np.ones(3), 60)
    endmembers = rng.uniform(size=(3, 8))
    pixels = abundances @ endmembers + 1e-3 * rng.normal(size=(60, 8))
    return {"Y": pixels.T, "S_GT": abundances.T, "GT": endmembers}


def _write_scene(folder: Path, scene: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(scene, bytes):
        (folder / "mine.mat").write_bytes(scene)
    else:
        savemat(folder / "mine.mat", scene)


def _samson(scene: Any, files: Any = "mine.mat") -> Any:
    """``data.load("samson", files=files)`` on a data folder whose ``hyperspectral/mine.mat`` holds ``scene``."""
    root = Path(tempfile.mkdtemp(prefix="c2f-data-"))
    _write_scene(root / "hyperspectral", scene)
    with _cache():
        return data.load("samson", split="all", files=files, data_dir=root)


def _scene_with(name: str, index: tuple[int, int], value: float) -> Any:
    def spoil(v: dict[str, Any]) -> dict[str, Any]:
        out = {k: np.array(a, dtype=np.float64) for k, a in v.items()}
        out[name][index] = value
        return out

    return spoil


def _integer_scene(max_value: float) -> Any:
    def spoil(v: dict[str, Any]) -> dict[str, Any]:
        return {**v, "Y": np.round(v["Y"] * 1000).astype(np.int32), "maxValue": max_value}

    return spoil


_axis_role(
    "mat_scene",
    "files",
    bad=(
        ("nan_pixel", _scene_with("Y", (0, 0), float("nan"))),
        ("inf_pixel", _scene_with("Y", (2, 5), float("inf"))),
        ("max_value_zero", _integer_scene(0.0)),
        ("max_value_negative", _integer_scene(-1000.0)),
        ("empty_file", lambda v: b""),
        ("text_file", lambda v: b"not a MATLAB file\n"),
    ),
    valid=(("max_value_1000", _integer_scene(1000.0)),),
)
_axis_role(
    "mat_files",
    "files",
    bad=(("int", lambda v: 3), ("empty", lambda v: ())),
    valid=(("str", lambda v: "mine.mat"), ("tuple", lambda v: ("mine.mat",)), ("path", lambda v: Path("mine.mat"))),
)
add_axis_spoil("mat_files", "duplicates", "bad", "same_file_twice", lambda v: ("mine.mat", "mine.mat"))

# --------------------------------------------------------------------------- the runner


class _Stopped(Exception):
    """Raised by the stubs below where the command line would start real work."""


def _cli(seeds: str, workers: str, out: str) -> float:
    """``python -m c2f_utils.run setting -p seeds SEEDS --executor local --workers W --out OUT``,
    with the sweep and the notebook stubbed out: 0.0 when the command would start its work; an
    argparse error as a ValueError carrying its message (what the user reads)."""
    argv = ["setting", "-p", "seeds", seeds, "--executor", "local", "--workers", workers, "--out", out]
    stderr = io.StringIO()
    seen: dict[str, Any] = {}

    def fake_sweep(args: Any, config: Any) -> int:
        seen["workers"] = args.workers
        return 0

    with (
        mock.patch("c2f_utils.run._sweep", fake_sweep),
        mock.patch("c2f_utils.run.run_chapter", return_value=Path(out) / "setting.results.json"),
        mock.patch("c2f_utils.run.check_data", return_value=[]),
        contextlib.redirect_stderr(stderr),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        try:
            status = run.main(argv)
        except SystemExit:
            raise ValueError(stderr.getvalue().strip().splitlines()[-1]) from None
    if status != 0:
        raise RuntimeError(f"exit status {status}")
    if str(seen["workers"]) != workers:  # --workers 0 ran with 2
        return Wrong(f"--workers {workers} ran with {seen['workers']}")
    return 0.0


def _out_folder() -> str:
    return str(Path(tempfile.mkdtemp(prefix="c2f-out-")) / "run")


def _a_file(v: str) -> str:
    path = Path(tempfile.mkdtemp(prefix="c2f-out-")) / "results.txt"
    path.write_text("not a folder")
    return str(path)


_axis_role(
    "cli_seeds",
    "duplicates",
    bad=(("0,0,0", lambda v: "0,0,0"), ("1,0,1", lambda v: "1,0,1")),
    valid=(("0,1,2", lambda v: "0,1,2"),),
)
_axis_role(
    "cli_workers",
    "runner",
    bad=(("zero", lambda v: "0"), ("negative", lambda v: "-1"), ("word", lambda v: "two")),
    valid=(("one", lambda v: "1"), ("three", lambda v: "3")),
)
_axis_role(
    "cli_out",
    "runner",
    bad=(("a_file", _a_file), ("under_a_file", lambda v: str(Path(_a_file(v)) / "run"))),
    valid=(("existing_folder", lambda v: tempfile.mkdtemp(prefix="c2f-out-")),),
)


def _configure(seeds: list[int]) -> float:
    """``run.configure("setting", parameters={"seeds": seeds})`` (what run_chapter and the CLI call)."""
    run.configure("setting", "quick", {"seeds": seeds})
    return 0.0


_axis_role(
    "seed_values",
    "duplicates",
    bad=(("repeated", lambda v: [0, 0, 0]), ("int_and_float", lambda v: [1, 1.0]), ("twice", lambda v: [2, 2])),
    valid=(("tuple", lambda v: tuple(v)),),
)


# --------------------------------------------------------------------------- calls

CALLS: list[Call] = [
    Call(
        "losses.FIERCELoss.backward",
        _fierce_backward,
        lambda: {"features": _features(), "tau": 1.0, "similarity": "cosine"},
        {"features": "backward_features", "tau": "temperature"},
    ),
    Call(
        "losses.FIERCELoss.backward_dot",
        _fierce_backward,
        lambda: {"features": _features(), "tau": 1.0, "similarity": "dot"},
        {"features": "backward_features"},
    ),
    Call(
        "losses.kd_loss.backward",
        _kd_backward,
        lambda: {"student_logits": _logits(), "temperature": 2.0},
        {"student_logits": "backward_features", "temperature": "temperature"},
    ),
    Call(
        "losses.TFKDReg.temperature",
        _tfkd,
        lambda: {"temperature": 20.0, "logits": _logits()},
        {"temperature": "temperature"},
    ),
    Call(  # the default bins: Freedman-Diaconis, which one far outlier made ask for 1e12 bins
        "probes.histogram_entropy.fd",
        probes.histogram_entropy,
        lambda: {"values": _features(N, 1, seed=6)[:, 0]},
        {"values": "sample_1d"},
    ),
    Call("losses.OTRegularizer.half", _ot_value, lambda: {"features": _features()}, {"features": "half_features"}),
    Call(
        "probes.box_area_fraction.checked", _box_area_checked, lambda: {"boxes": _boxes_224()}, {"boxes": "boxes_224"}
    ),
    Call("probes.box_mass.checked", _box_mass_checked, lambda: {"boxes": _boxes_224()}, {"boxes": "boxes_224"}),
    Call(
        "probes.ridge_probe.checked",
        _ridge_checked,
        lambda: {"targets": _ridge_targets()},
        {"targets": "ridge_targets"},
    ),
    Call(
        "data.image_regression_folder.csv",
        _image_folder,
        lambda: {"targets": _csv_lines()},
        {"targets": "csv_lines"},
    ),
    Call(
        "data.image_regression_folder.csv_column",
        _image_folder,
        lambda: {"targets": _csv_lines(), "target_column": "age"},
        {"targets": "csv_lines"},
    ),
    Call(
        "data.load.samson_file",
        _samson,
        lambda: {"scene": _scene(), "files": "mine.mat"},
        {"scene": "mat_scene", "files": "mat_files"},
        mentions={"scene": "mine.mat"},
    ),
    Call(
        "run.main",
        _cli,
        lambda: {"seeds": "0,1", "workers": "2", "out": _out_folder()},
        {"seeds": "cli_seeds", "workers": "cli_workers", "out": "cli_out"},
    ),
    Call("run.configure", _configure, lambda: {"seeds": [0, 1]}, {"seeds": "seed_values"}),
]
