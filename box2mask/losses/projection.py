"""Projection loss: the mask's shadow on each axis must match the box's (seed 003 Eqs. 3.8-3.11).

A box only says which rows and columns the object touches; max-projecting the predicted mask onto
x and y and comparing with the box's projections uses exactly that and nothing more.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["projection_loss", "dice_loss"]


def dice_loss(pred: Tensor, target: Tensor, *, eps: float = 1.0) -> Tensor:
    """Smoothed p = 2 dice loss along the last dim: (..., N), (..., N) -> (...).

    1 - (2 sum(pred * target) + eps) / (sum(pred^2) + sum(target^2) + eps). The squares in the
    denominator are the "p = 2" of seed 003 Eq. 3.11 and of BoxInst's projection term; the
    intersection is left unsquared as in BoxInst (for a {0, 1} target that only changes how hard
    a soft prediction is pushed to 1; both are 0 exactly at pred == target). eps = 1 (the value
    is not given in the seeds): Laplace smoothing so an empty box and empty prediction give 0.
    """
    intersection = (pred * target).sum(dim=-1)
    union = (pred * pred).sum(dim=-1) + (target * target).sum(dim=-1)
    return 1.0 - (2.0 * intersection + eps) / (union + eps)


def projection_loss(
    logits: Tensor,
    box_masks: Tensor,
    *,
    valid: Tensor | None = None,
    eps: float = 1.0,
) -> Tensor:
    """Dice of the x- and y- max-projections of sigmoid(logits) against the box mask's.

    logits: (B, 1, H, W) float; box_masks: (B, 1, H, W) float {0, 1}; valid: optional
    (B, 1, H, W) {0, 1}/bool, 0 where the crop lies outside the image; such pixels are dropped
    from both projections (a row or column with no valid pixel projects to 0 on both sides and so
    adds nothing). Returns a scalar: dice(x) + dice(y) per sample, averaged over the batch.
    """
    if logits.dim() != 4 or logits.shape[1] != 1:
        raise ValueError(f"expected logits of shape (B, 1, H, W), got {tuple(logits.shape)}")
    if box_masks.shape != logits.shape:
        raise ValueError(f"box_masks {tuple(box_masks.shape)} must match logits {tuple(logits.shape)}")
    probs = torch.sigmoid(logits)
    target = box_masks.to(probs.dtype)
    if valid is not None:
        if valid.shape != logits.shape:
            raise ValueError(f"valid {tuple(valid.shape)} must match logits {tuple(logits.shape)}")
        keep = valid.to(probs.dtype)
        probs = probs * keep  # probabilities are >= 0, so a 0 never wins the max over valid ones
        target = target * keep
    loss_x = dice_loss(probs.amax(dim=-2).flatten(1), target.amax(dim=-2).flatten(1), eps=eps)
    loss_y = dice_loss(probs.amax(dim=-1).flatten(1), target.amax(dim=-1).flatten(1), eps=eps)
    return (loss_x + loss_y).mean()
