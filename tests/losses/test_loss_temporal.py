"""Temporal patch-matching loss: hand-computed strips, Eq. 3.22 on one pixel pair, and the
vectorised matcher against a plain-loop reference."""

from __future__ import annotations

import math

import pytest
import torch

from box2mask.losses import search_offsets, temporal_loss


def _nll_same(pa: float, pb: float) -> float:
    return -math.log(pa * pb + (1 - pa) * (1 - pb))


def _video_lab(frames: list[list[float]]) -> torch.Tensor:
    """(1, T, 3, 1, W) Lab strips: one list of L values per frame, a = b = 0."""
    lab = torch.zeros(1, len(frames), 3, 1, len(frames[0]))
    lab[0, :, 0, 0] = torch.tensor(frames)
    return lab


def _video_logits(frames: list[list[float]], *, requires_grad: bool = False) -> torch.Tensor:
    p = torch.tensor(frames, dtype=torch.float32)
    return torch.logit(p).reshape(1, len(frames), 1, 1, -1).clone().requires_grad_(requires_grad)


def test_one_pixel_pair_value_and_eq_3_22_gradient():
    # frames t and t+1 of a single pixel, same colour: one pair, p_t = .9, p_t+1 = .6.
    lab = torch.zeros(1, 2, 3, 1, 1)
    box = torch.ones(1, 2, 1, 1, 1)
    kwargs = dict(patch=1, radius=0, cyclic=False)
    plain_logits = _video_logits([[0.9], [0.6]], requires_grad=True)
    plain = temporal_loss(plain_logits, lab, box, detach=False, **kwargs)
    plain.backward()
    reg_logits = _video_logits([[0.9], [0.6]], requires_grad=True)
    regularised = temporal_loss(reg_logits, lab, box, detach=True, **kwargs)
    regularised.backward()

    # value: -log(.9 * .6 + .1 * .4) = -log .58, for both (Eq. 3.22 averages two equal values)
    assert plain.item() == pytest.approx(-math.log(0.58), rel=1e-5)
    assert regularised.item() == pytest.approx(-math.log(0.58), rel=1e-5)
    # plain gradient by hand: d(-log P)/da = -(2 p_b - 1) p_a (1 - p_a) / P, and symmetrically
    g_t = -(2 * 0.6 - 1) * 0.9 * 0.1 / 0.58
    g_next = -(2 * 0.9 - 1) * 0.6 * 0.4 / 0.58
    assert plain_logits.grad.flatten().tolist() == pytest.approx([g_t, g_next], rel=1e-5)
    # Eq. 3.22: each half of the average only moves its live side, so each frame gets half of its
    # plain gradient. Both frames still receive a gradient.
    assert reg_logits.grad.flatten().tolist() == pytest.approx([g_t / 2, g_next / 2], rel=1e-5)
    assert (reg_logits.grad != 0).all()


def test_matches_follow_a_shifted_pattern():
    # frame 1 is frame 0 moved right by 2 px. With patch 1 and offsets {-2, 0, 2}, pixel x of
    # frame 0 matches x + 2 of frame 1 only (other L values differ by >= 10: exp(-5) < 0.05).
    f0 = [10.0, 30.0, 50.0, 70.0, 90.0]
    f1 = [100.0, 0.0, 10.0, 30.0, 50.0]
    lab = _video_lab([f0, f1])
    box = torch.ones(1, 2, 1, 1, 5)
    p0 = [0.9, 0.8, 0.3, 0.5, 0.5]
    p1 = [0.5, 0.5, 0.6, 0.7, 0.1]
    logits = _video_logits([p0, p1])
    loss = temporal_loss(logits, lab, box, patch=1, radius=2, stride=2, cyclic=False)
    expected = sum(_nll_same(p0[x], p1[x + 2]) for x in range(3)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # cyclic with T = 2 adds the matching 1 -> 0, which finds the same three pairs from the other end
    cyclic = temporal_loss(logits, lab, box, patch=1, radius=2, stride=2, cyclic=True)
    assert cyclic.item() == pytest.approx(expected, rel=1e-5)


def test_pairs_need_the_box_in_either_frame():
    f0 = [10.0, 30.0, 50.0, 70.0, 90.0]
    f1 = [100.0, 0.0, 10.0, 30.0, 50.0]
    box = torch.zeros(1, 2, 1, 1, 5)
    box[0, 0, 0, 0, 0] = 1.0  # frame 0: pixel 0 -> pair (0 -> 2) counts through p
    box[0, 1, 0, 0, 4] = 1.0  # frame 1: pixel 4 -> pair (2 -> 4) counts through q
    p0 = [0.9, 0.8, 0.3, 0.5, 0.5]
    p1 = [0.5, 0.5, 0.6, 0.7, 0.1]
    logits, lab = _video_logits([p0, p1]), _video_lab([f0, f1])
    loss = temporal_loss(logits, lab, box, patch=1, radius=2, stride=2, cyclic=False)
    assert loss.item() == pytest.approx((_nll_same(0.9, 0.6) + _nll_same(0.3, 0.1)) / 2, rel=1e-5)


def test_patch_context_decides_the_match():
    # frame 0 = A A B, frame 1 = A A A, offset 0 only. Patch 1: pixels 0 and 1 match. Patch 3: the
    # patch around pixel 1 holds the B column (3 pixels differ by 20 Lab -> distance 34.6), so only
    # pixel 0 matches (its replicated-border patch is all A in both frames).
    lab = _video_lab([[40.0, 40.0, 60.0], [40.0, 40.0, 40.0]])
    box = torch.ones(1, 2, 1, 1, 3)
    p0, p1 = [0.9, 0.7, 0.5], [0.2, 0.6, 0.5]
    logits = _video_logits([p0, p1])
    single = temporal_loss(logits, lab, box, patch=1, radius=0, cyclic=False)
    patch = temporal_loss(logits, lab, box, patch=3, radius=0, cyclic=False)
    assert single.item() == pytest.approx((_nll_same(0.9, 0.2) + _nll_same(0.7, 0.6)) / 2, rel=1e-5)
    assert patch.item() == pytest.approx(_nll_same(0.9, 0.2), rel=1e-5)


def test_cyclic_closes_the_loop():
    # T = 3: frame 1 matches nothing, frame 2 equals frame 0, so only the closing pair 2 -> 0 exists
    a, b = [20.0, 20.0], [90.0, 90.0]
    lab = _video_lab([a, b, a])
    box = torch.ones(1, 3, 1, 1, 2)
    probs = [[0.9, 0.9], [0.5, 0.5], [0.3, 0.3]]
    logits = _video_logits(probs)
    cyclic = temporal_loss(logits, lab, box, patch=1, radius=0, cyclic=True)
    assert cyclic.item() == pytest.approx(_nll_same(0.3, 0.9), rel=1e-5)
    open_chain = temporal_loss(logits, lab, box, patch=1, radius=0, cyclic=False)
    assert open_chain.item() == 0.0


def test_single_frame_or_no_match_gives_zero_with_a_gradient():
    logits = torch.zeros(1, 1, 1, 3, 3, requires_grad=True)
    loss = temporal_loss(logits, torch.zeros(1, 1, 3, 3, 3), torch.ones(1, 1, 1, 3, 3))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
    unmatched = temporal_loss(
        torch.zeros(1, 2, 1, 1, 2, requires_grad=True),
        _video_lab([[10.0, 10.0], [90.0, 90.0]]),
        torch.ones(1, 2, 1, 1, 2),
    )
    assert unmatched.item() == 0.0 and unmatched.requires_grad


def _reference(logits, lab, box, *, patch, offsets, max_distance, cyclic):
    """Plain loops straight from the definition (replicated borders for patches)."""
    b_size, t_size, _, h, w = logits.shape
    half = patch // 2
    probs = torch.sigmoid(logits.double())
    frame_pairs = [(t, (t + 1) % t_size) for t in (range(t_size) if cyclic else range(t_size - 1))]
    losses = []
    for b in range(b_size):
        for t, u in frame_pairs:
            for y in range(h):
                for x in range(w):
                    for dy, dx in offsets:
                        qy, qx = y + dy, x + dx
                        if not (0 <= qy < h and 0 <= qx < w):
                            continue
                        if not (box[b, t, 0, y, x] > 0 or box[b, u, 0, qy, qx] > 0):
                            continue
                        squared = 0.0
                        for i in range(-half, half + 1):
                            for j in range(-half, half + 1):
                                py, px = min(max(y + i, 0), h - 1), min(max(x + j, 0), w - 1)
                                ry, rx = min(max(qy + i, 0), h - 1), min(max(qx + j, 0), w - 1)
                                squared += float(((lab[b, t, :, py, px] - lab[b, u, :, ry, rx]) ** 2).sum())
                        if math.sqrt(squared) <= max_distance:
                            pa, pb = float(probs[b, t, 0, y, x]), float(probs[b, u, 0, qy, qx])
                            losses.append(_nll_same(pa, pb))
    return sum(losses) / len(losses), len(losses)


def test_vectorised_matching_equals_the_plain_loop_reference():
    torch.manual_seed(3)
    b_size, t_size, h, w = 2, 3, 5, 6
    # two lightness levels 4 apart: a patch distance is 4 * sqrt(k) for k differing pixels, so a
    # threshold between k = 2 (5.66) and k = 3 (6.93) can never be a rounding call
    lab = torch.zeros(b_size, t_size, 3, h, w)
    lab[:, :, 0] = 4.0 * torch.randint(0, 2, (b_size, t_size, h, w)).float()
    box = torch.zeros(b_size, t_size, 1, h, w)
    for b in range(b_size):
        for t in range(t_size):
            y0, x0 = torch.randint(0, 3, (2,)).tolist()
            box[b, t, 0, y0 : y0 + 2, x0 : x0 + 3] = 1.0
    logits = torch.randn(b_size, t_size, 1, h, w)
    gamma, max_distance = 2.0, 6.3
    threshold = math.exp(-max_distance / gamma)
    for cyclic in (True, False):
        expected, count = _reference(
            logits, lab, box, patch=3, offsets=search_offsets(2, 1), max_distance=max_distance, cyclic=cyclic
        )
        assert count > 20  # the case exercises real matches
        got = temporal_loss(
            logits, lab, box, patch=3, radius=2, stride=1, threshold=threshold, gamma=gamma, cyclic=cyclic
        )
        assert got.item() == pytest.approx(expected, rel=1e-5)


def test_search_offsets_are_a_dilated_grid():
    assert search_offsets(4, 2) == [(dy, dx) for dy in (-4, -2, 0, 2, 4) for dx in (-4, -2, 0, 2, 4)]
    assert search_offsets(0, 2) == [(0, 0)]


def test_box_window_does_not_change_the_result():
    # a small box in a larger crop: the loss only looks at a window around the boxes, which must
    # give exactly what the full loops give (default radius 4, stride 2)
    torch.manual_seed(4)
    h = w = 14
    lab = torch.zeros(1, 2, 3, h, w)
    lab[:, :, 0] = 4.0 * torch.randint(0, 2, (1, 2, h, w)).float()
    box = torch.zeros(1, 2, 1, h, w)
    box[0, 0, 0, 2:5, 3:6] = 1.0
    box[0, 1, 0, 8:10, 9:12] = 1.0
    logits = torch.randn(1, 2, 1, h, w)
    threshold = math.exp(-6.3 / 2.0)
    expected, count = _reference(
        logits, lab, box, patch=3, offsets=search_offsets(4, 2), max_distance=6.3, cyclic=False
    )
    assert count > 10
    got = temporal_loss(logits, lab, box, threshold=threshold, cyclic=False)
    assert got.item() == pytest.approx(expected, rel=1e-5)
