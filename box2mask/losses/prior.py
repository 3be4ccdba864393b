"""A weak box prior: pixels inside the box lean towards "object".

Projection and the pairwise-type losses (pairwise colour, motion affinity,
temporal) have two cheap minima inside the box: the filled object, and a
contour or edge band that satisfies the projections with almost no area (seed
003, Fig. 3.7: the "thin mask" minimum).  Nothing in them tells the two apart;
on davis16-dev training the masks drifted to the second as the pairwise terms
warmed up.  A small binary cross-entropy towards 1 inside the box breaks the
tie: a region that no colour-similar path ties to the background outside the
box stays object.  Its weight is kept small so that background regions inside
the box which *are* colour-connected to the outside are still excluded by the
pairwise terms (their cost grows with the region's border, the prior's only
with its area times the weight).
"""

from __future__ import annotations

import torch
from torch import Tensor

from box2mask.losses.teacher import teacher_loss


def box_prior_loss(logits: Tensor, box_masks: Tensor, *, valid: Tensor | None = None) -> Tensor:
    """Mean BCE towards 1 over the valid pixels inside the box.

    logits, box_masks (and valid): (B, 1, H, W); box_masks in {0, 1}.  Returns a scalar
    (0 attached to the graph when no box pixel is valid).  It is the teacher loss with a
    teacher that says "object" everywhere inside the box.
    """
    weight = box_masks if valid is None else box_masks * valid
    return teacher_loss(logits, torch.ones_like(logits), weight)
