"""What each component computes, on fixed tiny inputs: the behaviour its declared version stands for.

Every component of :data:`c2f_utils.identity.COMPONENTS` has one probe here: a function that
runs it on small seeded inputs and returns its outputs (values and, for losses, the gradient
they send back). :func:`summary` reduces each output to a few float64 numbers; the committed
``behaviour_digests.json`` holds them with the version they were computed at
(``tests/test_behaviour.py`` compares; ``python3 tasks.py digests`` regenerates).
Why this and not the source: refactoring, messages and documentation change no output, so
they change no key; a change of what a component computes changes its outputs here, and
fails the test until its version is bumped (which re-keys exactly the runs that use it).
A real dataset is read from a fake copy in its public on-disk format (``fake_data.py``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from torch import nn

from c2f_utils import data, losses, models, probes, train
from c2f_utils.identity import COMPONENTS

Outputs = dict[str, Any]


def summary(value: Any) -> list[float]:
    """``[size, sum, sum of squares, position-weighted sum, first, last]`` of ``value`` in float64."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    arr = np.asarray(value, dtype=np.float64).ravel()
    if arr.size == 0:
        return [0.0]
    ramp = np.linspace(0.0, 1.0, arr.size)
    return [float(arr.size), float(arr.sum()), float((arr**2).sum()), float((arr * ramp).sum()), arr[0], arr[-1]]


def _inputs(n: int = 12, d: int = 6, k: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g)
    features = torch.randn(n, d, generator=g)
    target = torch.arange(n) % k
    return logits, features, target


def _loss_and_grads(loss: nn.Module, *args: torch.Tensor, needs: tuple[int, ...] = (0,)) -> Outputs:
    args = tuple(a.clone().requires_grad_(i in needs) if a.is_floating_point() else a for i, a in enumerate(args))
    value = loss(*args)
    value.backward()
    return {"loss": value, **{f"grad{i}": args[i].grad for i in needs}}


def _forward(model: nn.Module, x: torch.Tensor) -> Outputs:
    model.eval()
    with torch.no_grad():
        out = model(x)
    return {"logits": out.logits, "features": out.features}


# --------------------------------------------------------------------------- training loop and models


def _train() -> Outputs:
    torch.manual_seed(0)
    x = torch.randn(32, 5, generator=torch.Generator().manual_seed(1))
    y = torch.arange(32) % 2
    model = models.MLP(5, 2, hidden=(8,), feature_dim=4)
    config = train.TrainConfig(epochs=2, batch_size=8, lr=0.1, momentum=0.9, seed=0, progress=False)
    history = train.fit(model, (x, y), config=config).history
    return {
        "weights": torch.cat([p.detach().flatten() for p in model.parameters()]),
        "loss": history["train_loss"].to_numpy(),
        "features": train.extract_features(model, x).features,
        "crop_flip": train.crop_flip(1, True)(torch.arange(2 * 3 * 4 * 4.0).reshape(2, 3, 4, 4)),
    }


def _augment() -> Outputs:
    from c2f_utils import augment

    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(4) % 3
    out: Outputs = {}
    torch.manual_seed(0)
    out["cutout"] = augment.cutout(4)(x)
    out["randaugment"] = augment.randaugment()(x)
    for kind in augment.MIXES:
        mixer = augment.MixedBatches(kind)
        out[kind] = mixer.transform(x)
        out[f"{kind}_loss"] = mixer.criterion(nn.CrossEntropyLoss())(
            torch.randn(4, 3, generator=torch.Generator().manual_seed(2)), y
        )
    return out


def _seeded(make: Callable[[], nn.Module], shape: tuple[int, ...]) -> Outputs:
    torch.manual_seed(0)
    model = make()
    return _forward(model, torch.randn(shape, generator=torch.Generator().manual_seed(1)))


def _pretrained_resnet() -> Outputs:
    torch.manual_seed(0)
    from torchvision.models import resnet18

    network = resnet18(num_classes=5)
    model = models.PretrainedResNet(network, 3, mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2))
    return _forward(model, torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)))


def _state() -> Outputs:
    torch.manual_seed(0)
    a, b = models.MLP(4, 2, hidden=(3,), feature_dim=3), models.MLP(4, 2, hidden=(3,), feature_dim=3)
    models.load_state_arrays(b, models.state_arrays(a))
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    ref = models.reference_outputs(models.freeze(b), x)
    return {"logits": ref.logits, "features": ref.features, "parameters": models.count_parameters(a)}


# --------------------------------------------------------------------------- losses


def _confidence() -> Outputs:
    logits, _, target = _inputs()
    return _loss_and_grads(losses.ConfidencePenalty(0.3), logits, target)


def _distill() -> Outputs:
    logits, _, target = _inputs()
    teacher = _inputs(seed=1)[0]
    kd = _loss_and_grads(losses.KDLoss(temperature=4.0, beta=0.3), logits, teacher, target)
    q = torch.randn(3, 3, generator=torch.Generator().manual_seed(2))
    st = _loss_and_grads(losses.SubstituteTeacherLoss(q, alpha=0.2), logits, target)
    return {**{f"kd_{k}": v for k, v in kd.items()}, **{f"st_{k}": v for k, v in st.items()}}


def _fierce() -> Outputs:
    logits, features, target = _inputs()
    loss = losses.FIERCELoss(6, n_anchors=8, lam=0.7, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)  # the Gumbel noise is drawn from torch's global generator
    return _loss_and_grads(loss, logits, features, target, needs=(0, 1))


def _smoothing() -> Outputs:
    logits, _, target = _inputs()
    lls = _loss_and_grads(losses.LLSLoss(3, alpha=0.2), logits, target)
    ols = _loss_and_grads(losses.OnlineLabelSmoothing(3, alpha=0.5), logits, target)
    tf = _loss_and_grads(losses.TFKDReg(3, alpha=0.2, temperature=5.0), logits, target)
    soft = losses.label_smoothing_targets(target, 3, 0.1)
    return {
        **{f"lls_{k}": v for k, v in lls.items()},
        **{f"ols_{k}": v for k, v in ols.items()},
        **{f"tfkd_{k}": v for k, v in tf.items()},
        "soft_ce": losses.soft_cross_entropy(logits, soft),
    }


def _transport() -> Outputs:
    _, features, _ = _inputs(n=10, d=5)
    ref = _inputs(n=10, d=5, seed=1)[1]
    cost = losses.neuron_cost(features, ref)
    out: Outputs = {"cost": cost, "exact": losses.transport_plan(cost)}
    out["proximal"] = losses.transport_plan(cost, "proximal")
    out |= {f"ot_{k}": v for k, v in _loss_and_grads(losses.OTRegularizer(), features, ref).items()}
    torch.manual_seed(0)
    a, b = models.MLP(4, 2, hidden=(3,), feature_dim=3), models.MLP(4, 2, hidden=(3,), feature_dim=3)
    out["l2sp"] = losses.L2SP(a, alpha=0.1, beta=0.01)(b)
    out["l2"] = losses.L2Penalty(0.1)(b)
    return out


# --------------------------------------------------------------------------- probes


def _blobs(n: int = 60, d: int = 4, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    return rng.normal(size=(n, d)) + y[:, None], y


def _probs(n: int = 40, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k), size=n)
    return p, rng.integers(0, k, size=n)


def _calibration() -> Outputs:
    p, y = _probs()
    res = probes.calibration(p, y, n_bins=5)
    return {"ece": res.ece, "mce": res.mce, "diagram": probes.reliability_diagram(p, y, 5).select_dtypes("number")}


def _entropy() -> Outputs:
    x, _ = _blobs()
    anchors = np.random.default_rng(1).normal(size=(8, 4))
    return {
        "anchor": probes.anchor_entropy(x, anchors),
        "hist": probes.histogram_entropy(x[:, 0]),
        "knn": probes.knn_entropy(x),
    }


def _fewshot() -> Outputs:
    x, y = _blobs(n=100, k=5)
    res = probes.few_shot_eval(x, y, n_way=3, n_shot=1, n_query=5, n_episodes=50, seed=0)
    return {"mean": res.mean, "ci": res.ci95}


def _geometry() -> Outputs:
    x, y = _blobs()
    centres = probes.class_centres(x, y, 3)
    d = probes.normalized_cosine_distances(centres)
    return {
        "centres": centres,
        "distances": d,
        "equidistance": probes.equidistance(d),
        "silhouette": probes.silhouette(x, y),
        "confusion": probes.confusion(y, (y + (x[:, 0] > 1)) % 3, 3),
    }


def _information() -> Outputs:
    p, y = _probs()
    point = probes.info_plane(p, y)
    label = probes.label_information(y, 3)
    ls = probes.ls_info_plane(0.2, np.array([10, 20, 30]))
    rows = np.random.default_rng(0).dirichlet(np.ones(3), size=6)
    ib = probes.ib_lagrangian(rows, [0.5, 2.0], steps=50)
    return {
        "plane": [point.i_xt, point.i_ty],
        "label": [label.i_xt, label.i_ty],
        "ls": [ls.i_xt, ls.i_ty],
        "mi": probes.output_mutual_information(p),
        "ib": [[sol.i_xt, sol.i_ty, sol.objective] for sol in ib],
    }


def _linear() -> Outputs:
    x, y = _blobs()
    res = probes.linear_probe(x[:40], y[:40], x[40:], y[40:], seed=0)
    ridge = probes.ridge_probe(x[:40], x[:40, 0] * 2.0, x[40:], x[40:, 0] * 2.0)
    return {"acc": res.test_score, "proba": res.test_prediction, "ridge": ridge.test_score}


def _regression() -> Outputs:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=40)
    cls = (feats > 0).astype(int)
    targets = feats * 3 + 10
    means = np.array([targets[cls == 0].mean(), targets[cls == 1].mean()])
    ot = probes.ot_regression_1d(feats, cls, targets, means)
    x = torch.randn(30, 4, generator=torch.Generator().manual_seed(1))
    t = torch.softmax(torch.randn(30, 3, generator=torch.Generator().manual_seed(2)), 1)
    transfer = probes.transfer_mse(x[:20], t[:20], x[20:], t[20:], seed=0)
    return {
        "ot": [ot.mse_self, ot.beta_self, ot.mse_class_mean, *ot.mse_by_beta],
        "transport_1d": probes.transport_1d(feats, targets),
        "simplex": probes.simplex_mse(t[:10], t[10:20]),
        "transfer": [transfer.train_mse, transfer.test_mse, transfer.val_mse, transfer.iterations],
    }


def _saliency() -> Outputs:
    torch.manual_seed(0)
    model = models.LeNet5(3, in_channels=1)
    images = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    maps = probes.gradcam_maps(model, images, model.conv2)
    boxes = np.array([[2, 2, 10, 12], [5, 0, 28, 9]])
    return {"maps": maps, "mass": probes.box_mass(maps, boxes), "area": probes.box_area_fraction(boxes, 28, 28)}


def _probe_transport() -> Outputs:
    _, a, _ = _inputs(n=10, d=5)
    b = _inputs(n=10, d=5, seed=1)[1]
    analysis = probes.ot_plan_analysis(a, b)
    return {"trace": probes.ot_plan_trace(a, b), "analysis": [v for v in vars(analysis).values() if np.isscalar(v)]}


# --------------------------------------------------------------------------- data


@functools.cache
def _fake_root() -> Path:
    """Fake copies of every real dataset in their public on-disk formats (:mod:`fake_data`), written once."""
    from fake_data import write_fake_data

    root = Path(tempfile.mkdtemp(prefix="c2f-behaviour-"))
    write_fake_data(root / "data")
    return root


def _dataset(name: str) -> Callable[[], Outputs]:
    """A dataset's first images and labels of every split; a real dataset read from its fake copy, so
    that the digest is its loader's behaviour, the same on every machine, with or without the real files."""

    def probe() -> Outputs:
        import torchvision.datasets.cifar as tv_cifar

        real = data.describe(name).kind == "real"
        root = _fake_root()
        env = {"C2F_DATA_DIR": str(root / "data"), "C2F_CACHE_DIR": str(root / "cache")} if real else {}
        # torchvision checks the MD5 of the original CIFAR batches: a fake copy only has to exist
        integrity = mock.patch.object(tv_cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
        out: Outputs = {}
        with mock.patch.dict(os.environ, env), integrity:
            for split in data.describe(name).splits:
                d = data.load(name, split, download=False)
                out[f"{split}_x"] = d.x[:64]
                out[f"{split}_n"] = len(d.x)
                out[f"{split}_fine"] = d.fine[:256]
        return out

    return probe


def _core() -> Outputs:
    d = data.load("digits", "all")
    return {name: d.labels(name)[:200] for name in ("fine", *sorted(d.coarse))}


def _splits() -> Outputs:
    d = data.load("digits", "all")
    sub = data.class_subset(d, [0, 1, 2], relabel=True)
    fit_, held = data.holdout_split(sub, 0.25, np.random.default_rng(0))
    support, query = data.few_shot_split(sub, [0, 1, 2], 5, np.random.default_rng(0))
    return {"fit": fit_.fine, "held": held.fine, "support": support.x, "query": query.fine}


def _folders() -> Outputs:
    import tempfile

    from PIL import Image

    from c2f_utils.data import folders

    with tempfile.TemporaryDirectory() as root:
        rng = np.random.default_rng(0)
        for i in range(10):
            pixels = rng.integers(0, 255, size=(12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(Path(root) / f"{20 + i}_face.png")
        parts = {s: folders.image_regression_folder(s, root, pattern=r"^(\d+)_", size=8) for s in ("train", "test")}
    return {f"{s}_{k}": getattr(d, k) for s, d in parts.items() for k in ("x", "fine")}


def _weights() -> Outputs:
    from torchvision.models import ResNet18_Weights, ResNet101_Weights

    from c2f_utils import weights

    # what identifies the file a weights enum is verified against (its checksum prefix)
    enums = (ResNet18_Weights.IMAGENET1K_V1, ResNet101_Weights.IMAGENET1K_V1)
    return {"prefixes": [int(weights.hash_prefix(w), 16) for w in enums]}


PROBES: dict[str, Callable[[], Outputs]] = {
    "train": _train,
    "augment": _augment,
    "models.mlp": lambda: _seeded(lambda: models.MLP(6, 3, hidden=(5,), feature_dim=4), (4, 6)),
    "models.lenet5": lambda: _seeded(lambda: models.LeNet5(3, in_channels=1), (2, 1, 28, 28)),
    "models.resnet": lambda: _seeded(lambda: models.cifar_resnet(8, 3, width=0.5), (2, 3, 32, 32)),
    "models.pretrained_resnet": _pretrained_resnet,
    "models.state": _state,
    "losses.confidence": _confidence,
    "losses.distill": _distill,
    "losses.fierce": _fierce,
    "losses.smoothing": _smoothing,
    "losses.transport": _transport,
    "probes.calibration": _calibration,
    "probes.entropy": _entropy,
    "probes.fewshot": _fewshot,
    "probes.geometry": _geometry,
    "probes.information": _information,
    "probes.linear": _linear,
    "probes.regression": _regression,
    "probes.saliency": _saliency,
    "probes.transport": _probe_transport,
    "data.core": _core,
    "data.splits": _splits,
    "data.folders": _folders,
    "weights": _weights,
    **{f"data.{name}": _dataset(name) for name in data.available()},
}
"""Component -> its probe (one per registered dataset: its first images and labels of every split)."""


# --------------------------------------------------------------------------- the committed digests

DIGESTS = Path(__file__).with_name("digests")
"""``components.json`` (every component's probe) and ``<chapter>-<profile>.json`` (each
profile's ``--smoke`` metrics, written by ``tests/test_profiles_smoke.py``)."""
UPDATE_ENV = "C2F_UPDATE_DIGESTS"
"""Set (``python3 tasks.py digests``) to write the digests instead of comparing them."""
RTOL, ATOL = 1e-5, 1e-8
"""Tolerance of a comparison: float32 reductions may differ in their last bits between CPUs."""
SMOKE_PLATFORM = ("cpu_model", "torch_threads", "torch")
"""What must match for smoke metrics (a few float32 training steps) to be compared exactly."""


def component_digest(name: str) -> dict[str, Any]:
    """``{"version", "outputs": {output: summary}}`` of component ``name``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of tiny problems: the numbers are what is compared
        out = PROBES[name]()
    return {"version": COMPONENTS[name], "outputs": {k: summary(v) for k, v in out.items()}}


def differences(recorded: dict[str, list[float]], now: dict[str, list[float]]) -> list[str]:
    """Names of the outputs whose summaries differ beyond the tolerance (or exist on one side only)."""
    out = sorted(set(recorded) ^ set(now))
    for key in sorted(set(recorded) & set(now)):
        a, b = np.asarray(recorded[key], dtype=float), np.asarray(now[key], dtype=float)
        if a.shape != b.shape or not np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True):
            out.append(key)
    return out


def users(component: str) -> list[str]:
    """``chapter/profile: experiment`` of every planned run that declares ``component``."""
    from c2f_utils import chapters

    found = set()
    for chapter in chapters.load_all().values():
        for profile in chapter.profiles:
            for _, exp in chapter.configure(profile).plan():
                if component in exp.components():
                    found.add(f"{chapter.name}/{profile}: {exp.name}")
    return sorted(found)


TIMINGS = re.compile(r"(^|_)(s|ms|seconds|time)(_|$)")
"""Metric names that are durations (``epoch_s_LLS``): measured, not computed, never compared."""
DEGENERATE = re.compile(r"^trace_taps\.")
"""Metrics not compared: the plan traces between the layers of the OT paper profile's randomly
initialised ResNet-101 on two images per batch (its smoke run) are exact plans of nearly tied
costs, which flip between vertices with the last bits (seen: three runs of the same code gave three
values); the plan code itself is digested as the ``probes.transport`` and ``losses.transport`` components."""


def smoke_id(exp: Any) -> str:
    """A planned run's identity in the smoke digests: its experiment and parameters."""
    return json.dumps([exp.name, exp.params()], sort_keys=True)


def smoke_digest(exp: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    """What a smoke run declares (experiment and component versions) and its metrics (durations left out)."""
    declared = exp.declaration()
    return {
        "declared": {k: declared[k] for k in ("version", "components", "requires")},
        "metrics": {k: v for k, v in sorted(metrics.items()) if not (TIMINGS.search(k) or DEGENERATE.search(k))},
    }


def _smoke_platform() -> dict[str, Any]:
    from c2f_utils.identity import library_versions, platform_facts

    facts = {**platform_facts(), **library_versions()}
    return {k: facts[k] for k in SMOKE_PLATFORM}


def check_smoke_digests(case: str, found: dict[str, dict[str, Any]]) -> None:
    """Compare a profile's smoke runs with ``digests/<case>.json`` (or write it, with ``$C2F_UPDATE_DIGESTS``).

    A few float32 training steps are bit-reproducible on one platform only: on another
    (CPU model, threads, torch version) the comparison is not made, and a warning says so.
    """
    path = DIGESTS / f"{case}.json"
    if os.environ.get(UPDATE_ENV):
        content = {"platform": _smoke_platform(), "runs": found}
        path.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")
        return
    assert path.is_file(), f"no smoke digests for {case}: run python3 tasks.py digests and commit tests/digests"
    recorded = json.loads(path.read_text())
    if recorded["platform"] != _smoke_platform():
        warnings.warn(
            f"{case}: smoke digests recorded on {recorded['platform']}, here {_smoke_platform()}: not compared",
            stacklevel=2,
        )
        return
    problems = []
    for run, now in found.items():
        then = recorded["runs"].get(run)
        if then is None or then["declared"] != now["declared"]:
            problems.append(f"{run}: declared versions changed or new run, regenerate the digests")
            continue
        changed = differences({k: [v] for k, v in then["metrics"].items()}, {k: [v] for k, v in now["metrics"].items()})
        if changed:
            problems.append(f"{run}: metrics {changed} changed at the same declared versions")
    assert not problems, (
        f"{case}: {problems}. A run computes something else while its key stays the same: bump the version of "
        "the component (c2f_utils.identity.COMPONENTS) or experiment (its `version`) that changed, then "
        "python3 tasks.py digests"
    )


def main(argv: list[str]) -> int:
    """``python tests/behaviour.py --update``: recompute every component's digest and write them."""
    if argv != ["--update"]:
        print("usage: python tests/behaviour.py --update")
        return 2
    path = DIGESTS / "components.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    new = {}
    for name in sorted(PROBES):
        digest = new[name] = component_digest(name)
        if name in old and old[name] != digest:
            print(f"{name}: changed ({', '.join(differences(old[name]['outputs'], digest['outputs'])) or 'version'})")
    DIGESTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path} ({len(new)} components)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
