"""Pairwise colour loss: nearby pixels of the same colour should get the same label.

Seed 003 Eqs. 3.13-3.17 (after BoxInst): for each pixel p inside the box and each dilated
neighbour q with Lab similarity >= threshold, minimise -log P(y_p = y_q) with
P = m_p m_q + (1 - m_p)(1 - m_q). Colour similarity only ever says "same"; it never claims two
pixels differ, so a multi-coloured object is not pulled apart.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from box2mask.losses.colour import squared_colour_distance
from box2mask.losses.neighbours import (
    Window,
    crop,
    dilate_mask,
    gather_offsets,
    mask_window,
    neighbour_offsets,
    offsets_inside,
)

__all__ = ["pairwise_colour_loss", "same_label_nll", "mean_pair_nll"]


def same_label_nll(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """-log(p_a p_b + (1 - p_a)(1 - p_b)) with p = sigmoid(logit), elementwise, from logits.

    Evaluated as -logaddexp(logsig(a) + logsig(b), logsig(-a) + logsig(-b)) so it stays finite and
    accurate for confident logits of either sign (no log(0), no 1 - p cancellation).
    """
    return -torch.logaddexp(
        F.logsigmoid(logits_a) + F.logsigmoid(logits_b),
        F.logsigmoid(-logits_a) + F.logsigmoid(-logits_b),
    )


def zero_loss(logits: Tensor) -> Tensor:
    """A scalar 0 that is still attached to ``logits`` (backward works, gradient is 0)."""
    return (logits * 0.0).sum()


def offset_pair_indices(
    pairs: Tensor, offsets: list[tuple[int, int]], window: Window, height: int, width: int
) -> tuple[Tensor, Tensor]:
    """Flat indices into a (B, 1, H, W) tensor of p and q = p + offset_d for every True of
    ``pairs`` (B, D, h, w), laid out over ``window``."""
    n, d, y, x = pairs.nonzero(as_tuple=True)
    y = y + window[0]
    x = x + window[2]
    shift = torch.tensor(offsets, device=pairs.device)[d]
    flat_p = (n * height + y) * width + x
    flat_q = (n * height + y + shift[:, 0]) * width + x + shift[:, 1]
    return flat_p, flat_q


def mean_pair_nll(logits: Tensor, flat_p: Tensor, flat_q: Tensor, *, detach: bool = False) -> Tensor:
    """Mean over pairs of -log P(same label) for ``logits.reshape(-1)[flat_p]`` and ``[flat_q]``.

    Log-sigmoids are taken once per pixel and gathered, so a pair costs one logaddexp. With
    ``detach`` the value is the mean of the loss with the q side detached and with the p side
    detached (seed 003 Eq. 3.22).
    """
    flat = logits.reshape(-1)
    log_fg, log_bg = F.logsigmoid(flat), F.logsigmoid(-flat)
    fg_p, fg_q = log_fg[flat_p], log_fg[flat_q]
    bg_p, bg_q = log_bg[flat_p], log_bg[flat_q]
    if not detach:
        return -torch.logaddexp(fg_p + fg_q, bg_p + bg_q).mean()
    p_learns = torch.logaddexp(fg_p + fg_q.detach(), bg_p + bg_q.detach())
    q_learns = torch.logaddexp(fg_p.detach() + fg_q, bg_p.detach() + bg_q)
    return -0.5 * (p_learns.mean() + q_learns.mean())


def similarity_limit(threshold: float, gamma: float) -> float:
    """Largest colour distance d with exp(-d / gamma) >= threshold (inf for threshold <= 0,
    negative when threshold > 1, i.e. nothing qualifies)."""
    if threshold <= 0:
        return math.inf
    return -gamma * math.log(threshold)


def pairwise_colour_loss(
    logits: Tensor,
    lab: Tensor,
    box_masks: Tensor,
    *,
    kernel: int = 3,
    dilation: int = 2,
    threshold: float = 0.3,
    gamma: float = 2.0,
    box_margin: int = 2,
    valid: Tensor | None = None,
) -> Tensor:
    """Mean of -log P(same label) over colour-similar (centre, neighbour) pairs near the box.

    logits: (B, 1, H, W); lab: (B, 3, H, W) from ``rgb_to_lab`` at the logits' resolution;
    box_masks: (B, 1, H, W) {0, 1}; valid: optional (B, 1, H, W), 0 where the crop is outside the
    image (pairs touching such pixels are dropped). Returns a scalar.

    Pairs: every pixel p whose centre lies in the box grown by ``box_margin`` px, with each of its
    K*K-1 dilated neighbours q inside the image and exp(-||Lab_p - Lab_q|| / gamma) >= threshold.
    Each unordered pair can thus appear twice (p -> q and q -> p), as in BoxInst.
    Normalisation: the sum over all qualifying pairs of the whole batch divided by their number
    (a pooled mean, as BoxInst); a well-defined 0 with a gradient when no pair qualifies.

    Defaults: kernel 3, dilation 2, threshold 0.3, gamma 2 from BoxInst (Tian et al. 2021; the
    source of seed 003's Eq. 3.14, and kept by seed 002). ``box_margin`` 2 (ours, = dilation):
    lets a pair that points into the box from just outside count too, and absorbs the 1-2 px
    error of tracking-dataset boxes.
    """
    if logits.dim() != 4 or logits.shape[1] != 1:
        raise ValueError(f"expected logits of shape (B, 1, H, W), got {tuple(logits.shape)}")
    if lab.shape[0] != logits.shape[0] or lab.shape[1] != 3 or lab.shape[-2:] != logits.shape[-2:]:
        raise ValueError(f"lab {tuple(lab.shape)} must be (B, 3, H, W) matching logits {tuple(logits.shape)}")
    if box_masks.shape != logits.shape:
        raise ValueError(f"box_masks {tuple(box_masks.shape)} must match logits {tuple(logits.shape)}")
    if valid is not None and valid.shape != logits.shape:
        raise ValueError(f"valid {tuple(valid.shape)} must match logits {tuple(logits.shape)}")
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    height, width = logits.shape[-2:]
    offsets = neighbour_offsets(kernel, dilation)
    limit = similarity_limit(threshold, gamma)
    with torch.no_grad():
        region = dilate_mask(box_masks, box_margin)  # centres that may start a pair
        window = mask_window(region)
    if window is None or limit < 0:
        return zero_loss(logits)
    with torch.no_grad():
        pairs = squared_colour_distance(lab, offsets, window=window) <= limit * limit  # (B, K*K-1, h, w)
        pairs &= crop(region, window)
        pairs &= offsets_inside(height, width, offsets, window=window, device=logits.device)
        if valid is not None:
            ok = valid > 0
            pairs &= crop(ok, window) & gather_offsets(ok, offsets, fill=False, window=window)[:, 0]
        flat_p, flat_q = offset_pair_indices(pairs, offsets, window, height, width)
    if flat_p.numel() == 0:
        return zero_loss(logits)
    return mean_pair_nll(logits, flat_p, flat_q)
