"""Input augmentations (c2f_utils.augment) against hand-written references."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from c2f_utils import augment


def _batch(n: int = 6, c: int = 3, h: int = 8, w: int = 10) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(0)) + 0.1  # no zero pixel


def test_cutout_zeroes_one_clipped_square_per_image() -> None:
    x = _batch(n=200)
    torch.manual_seed(1)
    out = augment.cutout(4)(x)
    zero = (out == 0).all(1)  # (n, h, w): erased pixels, every channel
    assert torch.equal(out[~zero.unsqueeze(1).expand_as(out)], x[~zero.unsqueeze(1).expand_as(x)])
    sizes = set()
    for mask in zero:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        # one axis-aligned rectangle, at most 4 x 4, the whole rectangle erased
        assert len(rows) <= 4 and len(cols) <= 4 and bool(mask[rows][:, cols].all())
        assert int(mask.sum()) == len(rows) * len(cols)
        sizes.add(int(mask.sum()))
    assert 16 in sizes and min(sizes) < 16  # whole squares inside, clipped ones at the borders


def test_randaugment_draws_per_image_and_keeps_the_batch() -> None:
    x = _batch(n=16).clamp(0, 1)
    torch.manual_seed(0)
    out = augment.randaugment(num_ops=2, magnitude=9)(x)
    assert out.shape == x.shape and out.dtype == x.dtype and float(out.min()) >= 0 and float(out.max()) <= 1
    changed = [(not torch.equal(a, b)) for a, b in zip(out, x, strict=True)]
    assert any(changed)
    with pytest.raises(ValueError, match="magnitude"):
        augment.randaugment(magnitude=31)
    with pytest.raises(ValueError, match="x"):
        augment.randaugment()(torch.rand(3, 8, 8))


def test_mixup_mixes_neighbours_and_the_loss_on_both_labels() -> None:
    x, y = _batch(), torch.tensor([0, 1, 2, 0, 1, 2])
    mixer = augment.MixedBatches("mixup")
    torch.manual_seed(3)
    mixed = mixer.transform(x)
    lam = mixer.pending
    assert lam is not None and 0 <= lam <= 1
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * x.roll(1, 0))
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(4))
    ce = nn.CrossEntropyLoss()
    loss = mixer.criterion(ce)(logits, y)
    torch.testing.assert_close(loss, lam * ce(logits, y) + (1 - lam) * ce(logits, y.roll(1, 0)))
    # used once: the next call (evaluation) is the plain criterion
    torch.testing.assert_close(mixer.criterion(ce)(logits, y), ce(logits, y))


def test_cutmix_pastes_a_box_whose_area_is_one_minus_lambda() -> None:
    x = _batch(n=4, h=16, w=16)
    mixer = augment.MixedBatches("cutmix")
    torch.manual_seed(5)
    mixed = mixer.transform(x)
    lam = mixer.pending
    from_other = (mixed == x.roll(1, 0)).all(1) & ~(mixed == x).all(1)
    # the same box in every image, of area (1 - lambda) of the image
    assert all(torch.equal(m, from_other[0]) for m in from_other)
    assert float(from_other[0].float().mean()) == pytest.approx(1 - lam, abs=1e-6)
    assert torch.equal(torch.where(from_other.unsqueeze(1), x.roll(1, 0), x), mixed)


def test_mixed_criterion_trains_the_base_parameters_and_validates() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(()))

        def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.scale * nn.functional.cross_entropy(logits, y)

    base = Scaled()
    crit = augment.MixedBatches("mixup").criterion(base)
    assert [p for p in crit.parameters()] == [base.scale]
    with pytest.raises(ValueError, match="kind"):
        augment.MixedBatches("mosaic")
    with pytest.raises(ValueError, match="alpha"):
        augment.MixedBatches("mixup", alpha=0.0)
    with pytest.raises(TypeError, match="base"):
        augment.MixedBatches("mixup").criterion(lambda a, b: a)
    with pytest.raises(ValueError, match="size"):
        augment.cutout(0)
    single = augment.MixedBatches("cutmix")
    one = _batch(n=1)
    assert torch.equal(single.transform(one), one) and single.pending is None
