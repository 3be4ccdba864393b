"""Distillation from pseudo-masks (a box-derived teacher, see box2mask.training.teacher).

With the box losses alone, the interior of the object is not pinned down: a
filled box and a thin contour both satisfy projection and the pairwise-type
terms (seed 003, Fig. 3.7), and on CPU budgets the slow peeling of background
off a filled box does not finish.  Pseudo-masks from a classical box method
(GrabCut) say where the object's body probably is; as a soft BCE term next to
the box losses, they settle the interior while the pairwise, affinity and
temporal terms remain free to correct the teacher's boundaries.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def teacher_loss(logits: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Mean BCE to soft targets over weighted pixels.

    logits, target (in [0, 1]) and weight: (B, 1, H, W); weight is 0 where the teacher
    has nothing to say (no pseudo-mask for that frame, or outside the image).
    """
    total = weight.sum()
    if total <= 0:
        return logits.sum() * 0.0
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (bce * weight).sum() / total
