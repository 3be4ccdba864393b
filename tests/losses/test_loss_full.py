"""All terms together on the degenerate 'thin mask' of seed 003 Fig. 3.7."""

from __future__ import annotations

import torch

from box2mask.losses import (
    LossWeights,
    combine,
    motion_affinity_loss,
    pairwise_colour_loss,
    projection_loss,
    temporal_loss,
)

CONFIDENT = 6.0


def _scene():
    """Two identical 16x16 frames: an 8x8 object of one colour on a background of another colour."""
    lab = torch.zeros(1, 2, 3, 16, 16)
    lab[:, :, 0] = 30.0
    lab[:, :, 0, 4:12, 4:12] = 70.0
    lab[:, :, 1, 4:12, 4:12] = 20.0
    box = torch.zeros(1, 2, 1, 16, 16)
    box[..., 4:12, 4:12] = 1.0
    return lab, box


def _thin(*, requires_grad: bool = False) -> torch.Tensor:
    """The object's diagonal only: it touches every row and column of the box."""
    thin = torch.full((1, 2, 1, 16, 16), -CONFIDENT)
    for i in range(8):
        thin[..., 4 + i, 4 + i] = CONFIDENT
    return thin.requires_grad_(requires_grad)


def _full_loss(logits, lab, box, iteration):
    flat = dict(logits=logits.flatten(0, 1), box_masks=box.flatten(0, 1))
    terms = {
        "projection": projection_loss(**flat),
        "pairwise": pairwise_colour_loss(lab=lab.flatten(0, 1), **flat),
        "affinity": motion_affinity_loss(lab=lab.flatten(0, 1), motion=torch.zeros_like(box.flatten(0, 1)), **flat),
        "temporal": temporal_loss(logits, lab, box),
    }
    return combine(terms, LossWeights(warmup_length=100), iteration)


def test_thin_mask_scores_worse_than_the_filled_object():
    lab, box = _scene()
    filled = torch.where(box > 0, CONFIDENT, -CONFIDENT)
    thin = _thin()

    _, filled_log = _full_loss(filled, lab, box, iteration=100)
    _, thin_log = _full_loss(thin, lab, box, iteration=100)
    # the projections cannot tell them apart ...
    assert abs(thin_log["projection"] - filled_log["projection"]) < 0.02
    # ... the colour and temporal terms can, by a wide margin
    for term in ("pairwise", "affinity", "temporal"):
        assert thin_log[term] > 0.3 > 0.01 > filled_log[term], term
    assert thin_log["total"] > filled_log["total"] + 1.0
    # before the warm-up only the projection counts, and the thin mask is as good as the filled one
    _, thin_start = _full_loss(thin, lab, box, iteration=0)
    _, filled_start = _full_loss(filled, lab, box, iteration=0)
    assert abs(thin_start["total"] - filled_start["total"]) < 0.02


def test_gradient_of_the_full_loss_grows_the_thin_mask():
    # From the thin mask, one gradient step raises the object pixels two columns off the diagonal
    # (dilated colour neighbours of it) and, summed over the object, pulls the unfilled part up.
    # (Pixels of the other parity are not linked to the diagonal at all by dilation-2 pairs or
    # stride-2 temporal offsets; only the network's smoothness couples them.)
    lab, box = _scene()
    thin = _thin(requires_grad=True)
    total, _ = _full_loss(thin, lab, box, iteration=100)
    total.backward()
    grad = thin.grad[0, 0, 0]
    ys, xs = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    in_object = box[0, 0, 0] > 0
    two_off = in_object & ((ys - xs).abs() == 2)
    assert (grad[two_off] < 0).all()  # descent raises them
    assert grad[in_object & (ys != xs)].sum() < 0
