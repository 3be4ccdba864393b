"""Pairwise colour loss on 1-row strips computed by hand; stability; float64 gradcheck."""

from __future__ import annotations

import math

import pytest
import torch

from box2mask.losses import pairwise_colour_loss, same_label_nll


def _strip_lab(lightness: list[float]) -> torch.Tensor:
    """(1, 3, 1, W) Lab strip with the given L and a = b = 0."""
    lab = torch.zeros(1, 3, 1, len(lightness))
    lab[0, 0, 0] = torch.tensor(lightness)
    return lab


def _logits(probs: list[float], *, requires_grad: bool = False) -> torch.Tensor:
    p = torch.tensor(probs, dtype=torch.float32)
    return torch.logit(p).reshape(1, 1, 1, -1).clone().requires_grad_(requires_grad)


def _nll_same(pa: float, pb: float) -> float:
    return -math.log(pa * pb + (1 - pa) * (1 - pb))


A, B = 50.0, 80.0  # two Lab lightnesses: similarity exp(-30/2) << 0.3


def test_two_equal_colours_and_one_different():
    # strip A A B, all in the box, 3x3 kernel dilation 1. Qualifying directed pairs: 0->1 and
    # 1->0 (similarity 1); 1->2 and 2->1 fail the threshold. Mean = -log(.9 * .6 + .1 * .4).
    lab = _strip_lab([A, A, B])
    box = torch.ones(1, 1, 1, 3)
    logits = _logits([0.9, 0.6, 0.3], requires_grad=True)
    loss = pairwise_colour_loss(logits, lab, box, kernel=3, dilation=1, box_margin=0)
    assert loss.item() == pytest.approx(-math.log(0.58), rel=1e-5)
    loss.backward()
    assert float(logits.grad[0, 0, 0, 2]) == 0.0  # the odd colour is never paired
    assert float(logits.grad[0, 0, 0, 0]) != 0.0 and float(logits.grad[0, 0, 0, 1]) != 0.0


def test_normalisation_is_the_mean_over_directed_pairs():
    # strip A A A B with probabilities .9 .6 .2 (.5). Directed pairs: 0->1, 1->0, 1->2, 2->1.
    lab = _strip_lab([A, A, A, B])
    box = torch.ones(1, 1, 1, 4)
    logits = _logits([0.9, 0.6, 0.2, 0.5])
    expected = (2 * _nll_same(0.9, 0.6) + 2 * _nll_same(0.6, 0.2)) / 4
    loss = pairwise_colour_loss(logits, lab, box, kernel=3, dilation=1, box_margin=0)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_only_centres_inside_the_grown_box_count():
    lab = _strip_lab([A, A, A, B])
    logits = _logits([0.9, 0.6, 0.2, 0.5])
    box = torch.zeros(1, 1, 1, 4)
    box[..., 0] = 1.0
    # margin 0: centre 0 only -> pair 0->1
    tight = pairwise_colour_loss(logits, lab, box, kernel=3, dilation=1, box_margin=0)
    assert float(tight) == pytest.approx(_nll_same(0.9, 0.6), rel=1e-5)
    # margin 1: centres 0 and 1 -> 0->1, 1->0, 1->2
    grown = pairwise_colour_loss(logits, lab, box, kernel=3, dilation=1, box_margin=1)
    expected = (2 * _nll_same(0.9, 0.6) + _nll_same(0.6, 0.2)) / 3
    assert float(grown) == pytest.approx(expected, rel=1e-5)


def test_dilation_skips_the_adjacent_pixel():
    # strip A B A with dilation 2: pixel 0 pairs with pixel 2 (same colour), never with pixel 1
    lab = _strip_lab([A, B, A])
    box = torch.ones(1, 1, 1, 3)
    logits = _logits([0.9, 0.5, 0.3])
    loss = pairwise_colour_loss(logits, lab, box, kernel=3, dilation=2, box_margin=0)
    assert loss.item() == pytest.approx(_nll_same(0.9, 0.3), rel=1e-5)


def test_no_qualifying_pair_gives_zero_with_a_gradient():
    lab = _strip_lab([A, B, A + 60.0])
    box = torch.ones(1, 1, 1, 3)
    logits = _logits([0.9, 0.5, 0.3], requires_grad=True)
    loss = pairwise_colour_loss(logits, lab, box, kernel=3, dilation=1)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
    empty_box = pairwise_colour_loss(logits, _strip_lab([A, A, A]), torch.zeros(1, 1, 1, 3))
    assert empty_box.item() == 0.0 and empty_box.requires_grad


def test_invalid_pixels_drop_their_pairs():
    lab = _strip_lab([A, A, A])
    box = torch.ones(1, 1, 1, 3)
    logits = _logits([0.9, 0.6, 0.1])
    valid = torch.tensor([1.0, 1.0, 0.0]).reshape(1, 1, 1, 3)
    loss = pairwise_colour_loss(logits, lab, box, kernel=3, dilation=1, box_margin=0, valid=valid)
    assert loss.item() == pytest.approx(_nll_same(0.9, 0.6), rel=1e-5)


def test_same_label_nll_is_stable_for_confident_logits():
    a = torch.tensor([50.0, -50.0, 50.0, 0.0], requires_grad=True)
    b = torch.tensor([50.0, -50.0, -50.0, 0.0])
    nll = same_label_nll(a, b)
    # P(same) = 2 sigmoid(50) sigmoid(-50) ~ 2 e^-50 for opposite confident labels; 1/2 at 0, 0
    assert nll.tolist() == pytest.approx([0.0, 0.0, 50.0 - math.log(2.0), math.log(2.0)], abs=1e-5)
    nll.sum().backward()
    assert torch.isfinite(a.grad).all()


def test_gradcheck_float64():
    torch.manual_seed(0)
    levels = torch.tensor([20.0, 60.0], dtype=torch.float64)
    lab = torch.zeros(1, 3, 5, 6, dtype=torch.float64)
    lab[:, 0] = levels[torch.randint(0, 2, (1, 5, 6))]  # two colours: similarity 1 or e^-20
    box = torch.zeros(1, 1, 5, 6, dtype=torch.float64)
    box[:, :, 1:4, 1:5] = 1.0
    logits = torch.randn(1, 1, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: pairwise_colour_loss(x, lab, box, box_margin=1), (logits,))


def _reference(logits, lab, box, *, kernel, dilation, threshold, gamma, margin):
    """Plain loops straight from the definition."""
    b_size, _, h, w = logits.shape
    probs = torch.sigmoid(logits.double())
    half = kernel // 2
    losses = []
    for b in range(b_size):
        for y in range(h):
            for x in range(w):
                near = box[b, 0, max(y - margin, 0) : y + margin + 1, max(x - margin, 0) : x + margin + 1]
                if not bool((near > 0).any()):
                    continue
                for i in range(-half, half + 1):
                    for j in range(-half, half + 1):
                        qy, qx = y + i * dilation, x + j * dilation
                        if (i, j) == (0, 0) or not (0 <= qy < h and 0 <= qx < w):
                            continue
                        distance = float(torch.linalg.vector_norm(lab[b, :, y, x] - lab[b, :, qy, qx]))
                        if math.exp(-distance / gamma) >= threshold:
                            losses.append(_nll_same(float(probs[b, 0, y, x]), float(probs[b, 0, qy, qx])))
    return sum(losses) / len(losses), len(losses)


def test_matches_the_plain_loop_reference_in_2d():
    torch.manual_seed(5)
    lab = torch.zeros(2, 3, 7, 9)
    lab[:, 0] = 10.0 * torch.randint(0, 3, (2, 7, 9)).float()  # three colours 10 Lab apart
    lab[:, 1] = 2.0 * torch.randint(0, 2, (2, 7, 9)).float()  # a small second difference
    box = torch.zeros(2, 1, 7, 9)
    box[0, 0, 1:4, 2:6] = 1.0
    box[1, 0, 3:7, 5:9] = 1.0
    logits = torch.randn(2, 1, 7, 9)
    expected, count = _reference(logits, lab, box, kernel=3, dilation=2, threshold=0.3, gamma=2.0, margin=1)
    assert count > 20
    got = pairwise_colour_loss(logits, lab, box, box_margin=1)
    assert got.item() == pytest.approx(expected, rel=1e-5)
