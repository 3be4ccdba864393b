"""Temporal loss: a pixel and its colour-matched patch in the next frame should share a label.

Seed 003 §3.3 (after Ke et al., its ref. [15]): patches of frame t are matched against patches of
frame t+1 inside a search window; a match (Lab patch similarity >= threshold) ties the two patch
centres with -log P(same label). Frames are chained t -> t+1 and, when cyclic, T-1 -> 0 (Eq. 3.19), so
every frame is tied to two others at the cost of T matchings.

Detach regularisation (seed 003 Eq. 3.22): the loss of a pair is the average of the loss with the
frame-t side detached and with the frame-t+1 side detached. Its value equals the plain loss, and
because the plain gradient of -log P(a, b) is just the sum of its two partial derivatives, the
regularised gradient is exactly half the plain one for every pair (d/da 1/2 f(a, sg(b)) =
1/2 df/da, likewise for b); the tests check this. So ``detach=True`` acts as the plain loss at
half weight: kept for fidelity to the thesis, but it cannot by itself change where training
goes (the thesis's argument for it does not survive the chain rule for this P).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from box2mask.losses.neighbours import Window, crop, gather_offsets, mask_window, offsets_inside, union_window
from box2mask.losses.pairwise import mean_pair_nll, similarity_limit, zero_loss

__all__ = ["temporal_loss", "search_offsets"]


def search_offsets(radius: int, stride: int) -> list[tuple[int, int]]:
    """Offsets (dy, dx) of the dilated search window: multiples of ``stride`` within ``radius``."""
    if radius < 0 or stride < 1:
        raise ValueError(f"need radius >= 0 and stride >= 1, got radius={radius}, stride={stride}")
    steps = range(-(radius // stride), radius // stride + 1)
    return [(i * stride, j * stride) for i in steps for j in steps]


def _match_pairs(
    lab_src: Tensor,
    lab_dst: Tensor,
    offsets: list[tuple[int, int]],
    *,
    patch: int,
    max_distance: float,
    window: Window,
) -> Tensor:
    """(N, D, h, w) bool over ``window``: the patch around p in src lies within ``max_distance``
    (L2 over the whole patch vector) of the patch around p + offset_d in dst. Patches that cross
    the image border use replicated edge pixels."""
    y0, y1, x0, x1 = window
    half = patch // 2
    reach = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    src = F.pad(lab_src, (half,) * 4, mode="replicate")[..., y0 : y1 + 2 * half, x0 : x1 + 2 * half]
    dst = F.pad(lab_dst, (half + reach,) * 4, mode="replicate")
    limit = max_distance * max_distance
    matches = []
    for dy, dx in offsets:
        top, left = reach + dy + y0, reach + dx + x0
        window_dst = dst[..., top : top + (y1 - y0) + 2 * half, left : left + (x1 - x0) + 2 * half]
        squared = (src - window_dst).square_().sum(dim=1, keepdim=True)
        matches.append(_patch_sum(squared, patch) <= limit)
    return torch.cat(matches, dim=1)


def _patch_sum(x: Tensor, patch: int) -> Tensor:
    """Sum over each patch x patch window, 'valid' mode: (..., h + patch - 1, w + patch - 1) -> (..., h, w).

    Shifted slices added up (separably) rather than ``avg_pool2d``, which is ~15x slower on CPU.
    """
    h, w = x.shape[-2] - patch + 1, x.shape[-1] - patch + 1
    rows = x[..., :, 0:w].clone()
    for j in range(1, patch):
        rows += x[..., :, j : j + w]
    out = rows[..., 0:h, :].clone()
    for i in range(1, patch):
        out += rows[..., i : i + h, :]
    return out


def temporal_loss(
    logits: Tensor,
    lab: Tensor,
    box_masks: Tensor,
    *,
    patch: int = 3,
    radius: int = 4,
    stride: int = 2,
    threshold: float = 0.05,
    gamma: float = 2.0,
    detach: bool = True,
    cyclic: bool = True,
    valid: Tensor | None = None,
) -> Tensor:
    """Mean of -log P(same label) over colour-matched patch centres of consecutive frames.

    logits: (B, T, 1, H, W); lab: (B, T, 3, H, W) Lab; box_masks: (B, T, 1, H, W) {0, 1};
    valid: optional (B, T, 1, H, W), 0 outside the image. Returns a scalar.

    For each frame pair (t, t+1) (plus (T-1, 0) when ``cyclic``; none when T < 2), each pixel p of
    frame t and each search offset d (multiples of ``stride`` up to ``radius``, both axes, d = 0
    included) the pair (p in t, q = p + d in t+1) counts when q is inside the image, p is in the box
    of frame t or q in the box of frame t+1, and exp(-||P_p - P_q|| / gamma) >= threshold, where P
    is the patch x patch Lab patch as one vector (seed 003 Eq. 3.14 applied to patches).
    A match ties only the two patch centres (Eq. 3.18 ties p to every pixel of the matched patch:
    9x the pairs, and neighbours of q are already tied to q by the pairwise loss). Normalisation: sum over all
    qualifying pairs of the batch divided by their number; a 0 with a gradient when there are none.

    Defaults: patch 3 and a 5 x 5 search grid (seed 003 Fig. 3.6: N = 3, M = 5), spread with
    stride 2 to reach +-4 px at the same cost. gamma 2 as the pairwise loss (Eq. 3.14 reused).
    threshold 0.05: the thesis does not print its value; Table 3.1 shows matches 99.6-99.8 %
    label-consistent at 0.05 with 8.5-11.9 % of pixels supervised. Its gamma is not printed
    either, so treat 0.05 as a starting point (with gamma 2 it admits patches whose pixels
    differ by ~2 Lab units RMS).
    """
    if logits.dim() != 5 or logits.shape[2] != 1:
        raise ValueError(f"expected logits of shape (B, T, 1, H, W), got {tuple(logits.shape)}")
    b, t, _, h, w = logits.shape
    if tuple(lab.shape) != (b, t, 3, h, w):
        raise ValueError(f"lab {tuple(lab.shape)} must have shape {(b, t, 3, h, w)}")
    if box_masks.shape != logits.shape:
        raise ValueError(f"box_masks {tuple(box_masks.shape)} must match logits {tuple(logits.shape)}")
    if valid is not None and valid.shape != logits.shape:
        raise ValueError(f"valid {tuple(valid.shape)} must match logits {tuple(logits.shape)}")
    if patch < 1 or patch % 2 == 0:
        raise ValueError(f"patch must be an odd integer >= 1, got {patch}")
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if t < 2 or threshold > 1.0:  # no frame pair, or a similarity no pair can reach
        return zero_loss(logits)
    src_frames = list(range(t)) if cyclic else list(range(t - 1))
    dst_frames = [(i + 1) % t for i in src_frames]
    offsets = search_offsets(radius, stride)
    device = logits.device

    with torch.no_grad():
        box_src = box_masks[:, src_frames].flatten(0, 1) > 0  # (N, 1, H, W), N = B * frame pairs
        box_dst = box_masks[:, dst_frames].flatten(0, 1) > 0
        reach = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
        # p can start a pair only if it is in its box or within reach of the next frame's box
        window = union_window(mask_window(box_src), mask_window(box_dst, margin=reach))
    if window is None:
        return zero_loss(logits)
    with torch.no_grad():
        max_distance = similarity_limit(threshold, gamma)
        lab_src = lab[:, src_frames].flatten(0, 1)
        lab_dst = lab[:, dst_frames].flatten(0, 1)
        pairs = _match_pairs(lab_src, lab_dst, offsets, patch=patch, max_distance=max_distance, window=window)
        pairs &= crop(box_src, window) | gather_offsets(box_dst, offsets, fill=False, window=window)[:, 0]
        pairs &= offsets_inside(h, w, offsets, window=window, device=device)
        if valid is not None:
            ok_src = valid[:, src_frames].flatten(0, 1) > 0
            ok_dst = valid[:, dst_frames].flatten(0, 1) > 0
            pairs &= crop(ok_src, window) & gather_offsets(ok_dst, offsets, fill=False, window=window)[:, 0]
        flat_p, flat_q = _frame_pair_indices(pairs, offsets, window, src_frames, dst_frames, (t, h, w))
    if flat_p.numel() == 0:
        return zero_loss(logits)
    return mean_pair_nll(logits, flat_p, flat_q, detach=detach)


def _frame_pair_indices(
    pairs: Tensor,
    offsets: list[tuple[int, int]],
    window: Window,
    src_frames: list[int],
    dst_frames: list[int],
    size: tuple[int, int, int],
) -> tuple[Tensor, Tensor]:
    """Flat indices into (B, T, 1, H, W) logits of p (frame src) and q = p + offset (frame dst)
    for every True of ``pairs`` (B * len(src_frames), D, h, w) laid out over ``window``."""
    t, h, w = size
    n, d, y, x = pairs.nonzero(as_tuple=True)
    y = y + window[0]
    x = x + window[2]
    video, which = n // len(src_frames), n % len(src_frames)
    t_src = torch.tensor(src_frames, device=pairs.device)[which]
    t_dst = torch.tensor(dst_frames, device=pairs.device)[which]
    shift = torch.tensor(offsets, device=pairs.device)[d]  # (n, 2) as (dy, dx)
    flat_p = ((video * t + t_src) * h + y) * w + x
    flat_q = ((video * t + t_dst) * h + y + shift[:, 0]) * w + x + shift[:, 1]
    return flat_p, flat_q
