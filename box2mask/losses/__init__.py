"""Box-only training losses for the video box-to-mask network (see docs/losses.md).

All take logits (not probabilities), plain torch tensors on any device, and return a scalar that
is differentiable w.r.t. the logits; colour, motion and boxes are treated as data.
"""

from box2mask.losses.affinity import motion_affinity_loss
from box2mask.losses.colour import neighbour_similarity, rgb_to_lab
from box2mask.losses.neighbours import gather_offsets, neighbour_offsets, unfold_neighbours
from box2mask.losses.prior import box_prior_loss
from box2mask.losses.pairwise import pairwise_colour_loss, same_label_nll
from box2mask.losses.projection import dice_loss, projection_loss
from box2mask.losses.schedule import LossWeights, combine, warmup
from box2mask.losses.teacher import teacher_loss
from box2mask.losses.temporal import search_offsets, temporal_loss

__all__ = [
    "LossWeights",
    "box_prior_loss",
    "combine",
    "dice_loss",
    "gather_offsets",
    "motion_affinity_loss",
    "neighbour_offsets",
    "neighbour_similarity",
    "pairwise_colour_loss",
    "projection_loss",
    "rgb_to_lab",
    "same_label_nll",
    "search_offsets",
    "teacher_loss",
    "temporal_loss",
    "unfold_neighbours",
    "warmup",
]
