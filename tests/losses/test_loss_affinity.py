"""Motion-aware affinity loss (seed 000 Eqs. 3-8) on 1-row strips computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from box2mask.losses import motion_affinity_loss


def _strip(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).reshape(1, 1, 1, -1)


def _lab(lightness: list[float]) -> torch.Tensor:
    lab = torch.zeros(1, 3, 1, len(lightness))
    lab[0, 0, 0] = torch.tensor(lightness)
    return lab


def _logits(probs: list[float], *, requires_grad: bool = False) -> torch.Tensor:
    return torch.logit(_strip(probs)).clone().requires_grad_(requires_grad)


def _nll_same(pa: float, pb: float) -> float:
    return -math.log(pa * pb + (1 - pa) * (1 - pb))


def test_similar_colour_but_different_motion_is_no_pair():
    # one colour; motion 0 | 1 | 1. psi(0, 1) = exp(-1 * 2) = 0.135 < 0.6, so only 1 <-> 2 pair.
    lab = _lab([50.0, 50.0, 50.0])
    motion = _strip([0.0, 1.0, 1.0])
    box = torch.ones(1, 1, 1, 3)
    logits = _logits([0.9, 0.6, 0.2], requires_grad=True)
    loss = motion_affinity_loss(logits, lab, motion, box, kernel=3, dilation=1)
    assert loss.item() == pytest.approx(_nll_same(0.6, 0.2), rel=1e-5)
    loss.backward()
    assert logits.grad[0, 0, 0, 0].item() == 0.0  # the pixel that moves differently is unpaired


def test_similar_motion_but_different_colour_is_no_pair():
    lab = _lab([20.0, 80.0])
    motion = _strip([0.5, 0.5])
    loss = motion_affinity_loss(_logits([0.9, 0.1]), lab, motion, torch.ones(1, 1, 1, 2), kernel=3, dilation=1)
    assert loss.item() == 0.0


def test_colour_alone_would_pair_them():
    # the same strip with motion equal everywhere: both pairs count (intersection reduces to colour)
    lab = _lab([50.0, 50.0, 50.0])
    motion = _strip([0.3, 0.3, 0.3])
    loss = motion_affinity_loss(_logits([0.9, 0.6, 0.2]), lab, motion, torch.ones(1, 1, 1, 3), kernel=3, dilation=1)
    assert loss.item() == pytest.approx((_nll_same(0.9, 0.6) + _nll_same(0.6, 0.2)) / 2, rel=1e-5)


def test_pairs_need_at_least_one_pixel_in_the_box():
    # uniform strip of 4, box = pixel 0 only: (0, 1) touches the box, (1, 2) and (2, 3) do not
    lab = _lab([50.0] * 4)
    motion = _strip([0.0] * 4)
    box = _strip([1.0, 0.0, 0.0, 0.0])
    loss = motion_affinity_loss(_logits([0.9, 0.6, 0.2, 0.7]), lab, motion, box, kernel=3, dilation=1)
    assert loss.item() == pytest.approx(_nll_same(0.9, 0.6), rel=1e-5)


def test_thresholds_are_strict_and_eta_scales_the_distance():
    # motion gap 0.2: psi = exp(-0.2 * eta). eta 2 -> 0.670 > 0.6 pairs; eta 3 -> 0.549 does not.
    lab = _lab([50.0, 50.0])
    motion = _strip([0.0, 0.2])
    box = torch.ones(1, 1, 1, 2)
    logits = _logits([0.9, 0.6])
    paired = motion_affinity_loss(logits, lab, motion, box, kernel=3, dilation=1, eta_motion=2.0)
    unpaired = motion_affinity_loss(logits, lab, motion, box, kernel=3, dilation=1, eta_motion=3.0)
    assert paired.item() == pytest.approx(_nll_same(0.9, 0.6), rel=1e-5)
    assert unpaired.item() == 0.0


def test_no_pair_gives_zero_with_a_gradient():
    logits = _logits([0.9, 0.6], requires_grad=True)
    loss = motion_affinity_loss(logits, _lab([50.0, 50.0]), _strip([0.0, 1.0]), torch.ones(1, 1, 1, 2))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_gradcheck_float64():
    torch.manual_seed(1)
    lab = torch.zeros(1, 3, 4, 5, dtype=torch.float64)
    lab[:, 0] = 40.0
    motion = torch.zeros(1, 1, 4, 5, dtype=torch.float64)
    motion[..., 3:] = 1.0
    box = torch.zeros(1, 1, 4, 5, dtype=torch.float64)
    box[..., 1:4, 1:4] = 1.0
    logits = torch.randn(1, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: motion_affinity_loss(x, lab, motion, box), (logits,))


def test_empty_box_gives_an_attached_zero():
    logits = _logits([0.9, 0.6], requires_grad=True)
    loss = motion_affinity_loss(logits, _lab([50.0, 50.0]), _strip([0.0, 0.0]), torch.zeros(1, 1, 1, 2))
    assert loss.item() == 0.0 and loss.requires_grad


def _reference(logits, lab, motion, box, *, kernel, dilation, eta_c, eta_m, tau_c, tau_m):
    b_size, _, h, w = logits.shape
    probs = torch.sigmoid(logits.double())
    half = kernel // 2
    losses = []
    for b in range(b_size):
        for y in range(h):
            for x in range(w):
                for i in range(-half, half + 1):
                    for j in range(-half, half + 1):
                        qy, qx = y + i * dilation, x + j * dilation
                        if (i, j) == (0, 0) or not (0 <= qy < h and 0 <= qx < w):
                            continue
                        if not (box[b, 0, y, x] > 0 or box[b, 0, qy, qx] > 0):
                            continue
                        phi = math.exp(-float(torch.linalg.vector_norm(lab[b, :, y, x] - lab[b, :, qy, qx])) * eta_c)
                        psi = math.exp(-abs(float(motion[b, 0, y, x] - motion[b, 0, qy, qx])) * eta_m)
                        if phi > tau_c and psi > tau_m:
                            losses.append(_nll_same(float(probs[b, 0, y, x]), float(probs[b, 0, qy, qx])))
    return sum(losses) / len(losses), len(losses)


def test_matches_the_plain_loop_reference_in_2d():
    torch.manual_seed(6)
    lab = torch.zeros(2, 3, 7, 9)
    lab[:, 0] = 10.0 * torch.randint(0, 2, (2, 7, 9)).float()
    motion = 0.5 * torch.randint(0, 2, (2, 1, 7, 9)).float()  # gaps of 0 or 0.5 (psi 1 or 0.37)
    box = torch.zeros(2, 1, 7, 9)
    box[0, 0, 2:5, 3:6] = 1.0
    box[1, 0, 0:3, 0:4] = 1.0
    logits = torch.randn(2, 1, 7, 9)
    expected, count = _reference(
        logits, lab, motion, box, kernel=3, dilation=2, eta_c=0.5, eta_m=2.0, tau_c=0.3, tau_m=0.6
    )
    assert count > 20
    assert motion_affinity_loss(logits, lab, motion, box).item() == pytest.approx(expected, rel=1e-5)
