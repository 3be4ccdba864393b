"""Projection loss on 4x4 cases worked out by hand, plus a float64 gradcheck."""

from __future__ import annotations

import pytest
import torch

from box2mask.losses import projection_loss

BIG = 30.0  # sigmoid(+-30) is 1 / 0 to within 1e-13


def _box(h: int, w: int, rows: slice, cols: slice) -> torch.Tensor:
    box = torch.zeros(1, 1, h, w)
    box[..., rows, cols] = 1.0
    return box


def test_perfect_mask_scores_zero():
    box = _box(4, 4, slice(1, 3), slice(1, 3))
    logits = torch.where(box > 0, BIG, -BIG)
    assert float(projection_loss(logits, box)) == pytest.approx(0.0, abs=1e-6)


def test_any_mask_with_the_box_projections_scores_zero():
    # a diagonal inside the 3x3 box touches every row and column of it: the projections cannot
    # tell it from the filled box (the weakness the pairwise/temporal terms exist for)
    box = _box(4, 4, slice(0, 3), slice(1, 4))
    logits = torch.full((1, 1, 4, 4), -BIG)
    for i in range(3):
        logits[0, 0, i, 1 + i] = BIG
    assert float(projection_loss(logits, box)) == pytest.approx(0.0, abs=1e-6)


def test_half_probability_everywhere_worked_value():
    # box = top-left 2x2 of 4x4, prediction 0.5 everywhere. Along x: pred (.5, .5, .5, .5), box
    # (1, 1, 0, 0): dice = 1 - (2 * (.5 + .5) + 1) / (4 * .25 + 2 + 1) = 1 - 3/4 = 0.25; same along y.
    box = _box(4, 4, slice(0, 2), slice(0, 2))
    logits = torch.zeros(1, 1, 4, 4)
    assert float(projection_loss(logits, box)) == pytest.approx(0.5, abs=1e-6)


def test_batch_mean():
    box = _box(4, 4, slice(0, 2), slice(0, 2)).repeat(2, 1, 1, 1)
    logits = torch.zeros(2, 1, 4, 4)
    logits[1] = torch.where(box[1] > 0, BIG, -BIG)  # second sample perfect
    assert float(projection_loss(logits, box)) == pytest.approx((0.5 + 0.0) / 2, abs=1e-6)


def test_invalid_pixels_are_left_out_of_both_projections():
    # right half of the crop lies outside the image. x: pred (.5, .5, 0, 0) vs box (1, 1, 0, 0):
    # 1 - (2 * 1 + 1) / (.5 + 2 + 1) = 1/7. y: every row still has valid .5 pixels -> 0.25.
    box = _box(4, 4, slice(0, 2), slice(0, 2))
    valid = _box(4, 4, slice(0, 4), slice(0, 2))
    logits = torch.zeros(1, 1, 4, 4)
    # what the invalid part predicts must not matter
    logits_wild = logits.clone()
    logits_wild[..., 2:] = BIG
    expected = 1.0 / 7.0 + 0.25
    assert float(projection_loss(logits, box, valid=valid)) == pytest.approx(expected, abs=1e-6)
    assert float(projection_loss(logits_wild, box, valid=valid)) == pytest.approx(expected, abs=1e-6)
    assert float(projection_loss(logits_wild, box)) > expected  # without `valid` it does matter


def test_prediction_outside_the_box_costs():
    box = _box(4, 4, slice(1, 3), slice(1, 3))
    filled = torch.where(box > 0, BIG, -BIG)
    spilled = filled.clone()
    spilled[0, 0, 0, 0] = BIG
    assert float(projection_loss(spilled, box)) > float(projection_loss(filled, box)) + 0.1


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="box_masks"):
        projection_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))


def test_gradcheck_float64():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    box = torch.zeros(2, 1, 4, 5, dtype=torch.float64)
    box[0, 0, 1:3, 1:4] = 1
    box[1, 0, 0:2, 2:5] = 1
    valid = torch.ones_like(box)
    valid[1, 0, :, 0] = 0
    assert torch.autograd.gradcheck(lambda x: projection_loss(x, box, valid=valid), (logits,))
