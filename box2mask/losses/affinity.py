"""Motion-aware affinity loss (seed 000 §3.2, Eqs. 3-8): same colour AND same motion -> same label.

Colour alone joins an object to background of the same colour (the camouflage case); requiring
the motion map to agree as well cuts those pairs (seed 000 Table 4: the intersection beats
colour-only, motion-only and the union).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from box2mask.losses.colour import squared_colour_distance
from box2mask.losses.neighbours import crop, dilate_mask, gather_offsets, mask_window, neighbour_offsets, offsets_inside
from box2mask.losses.pairwise import mean_pair_nll, offset_pair_indices, zero_loss

__all__ = ["motion_affinity_loss"]


def motion_affinity_loss(
    logits: Tensor,
    lab: Tensor,
    motion: Tensor,
    box_masks: Tensor,
    *,
    kernel: int = 3,
    dilation: int = 2,
    eta_colour: float = 0.5,
    eta_motion: float = 2.0,
    tau_colour: float = 0.3,
    tau_motion: float = 0.6,
    valid: Tensor | None = None,
) -> Tensor:
    """Mean of -I log rho over neighbour pairs with at least one pixel in the box.

    logits: (B, 1, H, W); lab: (B, 3, H, W) Lab; motion: (B, 1, H, W) in [0, 1]; box_masks:
    (B, 1, H, W) {0, 1}; valid: optional (B, 1, H, W), 0 outside the image. Returns a scalar.

    phi = exp(-||Lab_p - Lab_q|| * eta_colour), psi = exp(-|M_p - M_q| * eta_motion) (Eq. 3);
    I = [phi > tau_colour] AND [psi > tau_motion] (Eqs. 4-5, intersection); rho = p_p p_q +
    (1 - p_p)(1 - p_q) (Eq. 6); pairs P = (p, q) with q a dilated K x K neighbour of p inside the
    image and p or q in the box (Eq. 7). Each unordered pair is enumerated from both ends.
    Normalisation: Eq. 8 is a plain sum, which grows with crop size and batch; we divide by the
    number of pairs with I = 1 (pooled over the batch), like ``pairwise_colour_loss``, so the two
    weights are comparable. A well-defined 0 with a gradient when no pair has I = 1.

    Defaults: seed 000 gives no values. Colour as BoxInst (1/theta = 1/2, tau 0.3; see
    ``pairwise_colour_loss``); motion from seed 002 (tau_flow = 0.6, theta_flow = 0.5, so
    eta_motion = 1/0.5 = 2), there for an RGB-encoded flow image, here for a [0, 1] motion map:
    pairs whose motion differs by more than 0.5 * ln(1/0.6) = 0.255 are cut.
    """
    if logits.dim() != 4 or logits.shape[1] != 1:
        raise ValueError(f"expected logits of shape (B, 1, H, W), got {tuple(logits.shape)}")
    for name, tensor, channels in (("lab", lab, 3), ("motion", motion, 1), ("box_masks", box_masks, 1)):
        expected = (logits.shape[0], channels, *logits.shape[-2:])
        if tuple(tensor.shape) != expected:
            raise ValueError(f"{name} {tuple(tensor.shape)} must have shape {expected}")
    if valid is not None and valid.shape != logits.shape:
        raise ValueError(f"valid {tuple(valid.shape)} must match logits {tuple(logits.shape)}")
    height, width = logits.shape[-2:]
    offsets = neighbour_offsets(kernel, dilation)
    if eta_colour <= 0 or eta_motion <= 0:
        raise ValueError(f"eta_colour and eta_motion must be > 0, got {eta_colour}, {eta_motion}")
    if tau_colour >= 1.0 or tau_motion >= 1.0:  # similarities never exceed 1: no pair
        return zero_loss(logits)
    # phi > tau  <=>  distance < ln(1 / tau) / eta, tested on squared distances (no exp per pair)
    colour_limit = math.inf if tau_colour <= 0 else math.log(1.0 / tau_colour) / eta_colour
    motion_limit = math.inf if tau_motion <= 0 else math.log(1.0 / tau_motion) / eta_motion
    with torch.no_grad():
        in_box = box_masks > 0
        # a pair touches the box iff p or p + offset is in it: p lies in the box grown by the reach
        window = mask_window(dilate_mask(box_masks, (kernel // 2) * dilation))
    if window is None:
        return zero_loss(logits)
    with torch.no_grad():
        pairs = squared_colour_distance(lab, offsets, window=window) < colour_limit * colour_limit
        pairs &= (crop(motion, window) - gather_offsets(motion, offsets, window=window)[:, 0]).abs() < motion_limit
        pairs &= crop(in_box, window) | gather_offsets(in_box, offsets, fill=False, window=window)[:, 0]
        pairs &= offsets_inside(height, width, offsets, window=window, device=logits.device)
        if valid is not None:
            ok = valid > 0
            pairs &= crop(ok, window) & gather_offsets(ok, offsets, fill=False, window=window)[:, 0]
        flat_p, flat_q = offset_pair_indices(pairs, offsets, window, height, width)
    if flat_p.numel() == 0:
        return zero_loss(logits)
    return mean_pair_nll(logits, flat_p, flat_q)
