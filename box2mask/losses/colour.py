"""CIE Lab conversion and neighbour colour similarity, in torch so it runs where the batch is.

Why Lab: Euclidean distance in Lab roughly follows perceived colour difference, so one
similarity threshold means about the same thing in dark and bright regions (seed 003 §3.2.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from box2mask.losses.neighbours import Window, neighbour_offsets, offsets_inside, unfold_neighbours

__all__ = ["rgb_to_lab", "neighbour_similarity", "squared_colour_distance", "unfold_neighbours"]

# sRGB (linear) -> XYZ, D65 reference white; rows give X, Y, Z.
_RGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_WHITE_D65 = (0.95047, 1.0, 1.08883)
_DELTA = 6.0 / 29.0


def rgb_to_lab(images: Tensor) -> Tensor:
    """sRGB in [0, 1] -> CIE Lab (D65): (..., 3, H, W) float -> (..., 3, H, W), same dtype.

    L in [0, 100], a and b roughly in [-128, 127], the ranges the similarity defaults assume.
    Not meant to be differentiated (the losses treat colour as data). Clamps input to [0, 1].
    """
    if images.dim() < 3 or images.shape[-3] != 3:
        raise ValueError(f"expected images of shape (..., 3, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"expected float images in [0, 1], got dtype {images.dtype}")
    rgb = images.clamp(0.0, 1.0)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    matrix = torch.tensor(_RGB_TO_XYZ, dtype=rgb.dtype, device=rgb.device)
    white = torch.tensor(_WHITE_D65, dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,...jhw->...ihw", matrix, linear) / white[:, None, None]
    f = torch.where(
        xyz > _DELTA**3,
        xyz.clamp_min(1e-12) ** (1.0 / 3.0),
        xyz / (3.0 * _DELTA**2) + 4.0 / 29.0,
    )
    fx, fy, fz = f.unbind(dim=-3)
    lightness = 116.0 * fy - 16.0
    return torch.stack((lightness, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)


def squared_colour_distance(
    lab: Tensor, offsets: list[tuple[int, int]], *, window: Window | None = None
) -> Tensor:
    """||Lab_p - Lab_(p + offset_k)||^2: (B, 3, H, W) -> (B, len(offsets), h, w) over ``window``.

    Squared, so a threshold on exp(-d / gamma) can be tested as d^2 <= (gamma ln(1/tau))^2 without
    a sqrt and an exp per pair. Neighbours outside the image read as Lab (0, 0, 0); callers mask
    them with ``offsets_inside``.
    """
    height, width = lab.shape[-2:]
    y0, y1, x0, x1 = window if window is not None else (0, height, 0, width)
    centre = lab[..., y0:y1, x0:x1]
    r = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    padded = F.pad(lab, (r, r, r, r))
    # one offset at a time: no (B, 3, D, h, w) copy, and square-and-sum rather than
    # torch.linalg.vector_norm over dim 1, which is far slower on CPU
    return torch.stack(
        [
            (centre - padded[..., r + dy + y0 : r + dy + y1, r + dx + x0 : r + dx + x1]).square_().sum(dim=1)
            for dy, dx in offsets
        ],
        dim=1,
    )


def neighbour_similarity(
    lab: Tensor,
    *,
    kernel: int = 3,
    dilation: int = 2,
    gamma: float = 2.0,
    window: Window | None = None,
) -> Tensor:
    """exp(-||Lab_p - Lab_q||_2 / gamma) for each pixel p and its dilated neighbours q.

    lab: (B, 3, H, W) float -> (B, K*K-1, H, W) in [0, 1] (or over ``window`` only); 0 where q
    lies outside the image. Channel order follows ``neighbour_offsets(kernel, dilation)``.
    Defaults: 3x3 kernel, dilation 2, gamma = 2 are BoxInst's (Tian et al. 2021, the thesis's
    ref. [34], whose similarity seed 003 Eq. 3.14 adopts; seed 002 keeps BoxInst's values).
    """
    if lab.dim() != 4 or lab.shape[1] != 3:
        raise ValueError(f"expected lab of shape (B, 3, H, W), got {tuple(lab.shape)}")
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    offsets = neighbour_offsets(kernel, dilation)
    similarity = torch.exp(-squared_colour_distance(lab, offsets, window=window).sqrt_() / gamma)
    inside = offsets_inside(lab.shape[-2], lab.shape[-1], offsets, window=window, device=lab.device)
    return similarity * inside
