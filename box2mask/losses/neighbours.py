"""Gather each pixel's dilated neighbours, shared by the pairwise, affinity and temporal losses.

Convention: a neighbour offset is ``(dy, dx)`` and neighbour ``q`` of pixel ``p = (y, x)`` is
``(y + dy, x + dx)``. Offsets come in row-major order over the K x K kernel with the centre left
out, so channel ``k`` of every ``(..., K*K-1, H, W)`` tensor here means the same offset
``neighbour_offsets(kernel, dilation)[k]`` everywhere in the package.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def neighbour_offsets(kernel: int, dilation: int) -> list[tuple[int, int]]:
    """The K*K-1 offsets ``(dy, dx)`` of a dilated K x K kernel, row-major, centre excluded."""
    if kernel < 3 or kernel % 2 == 0:
        raise ValueError(f"kernel must be an odd integer >= 3, got {kernel}")
    if dilation < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation}")
    half = kernel // 2
    return [
        (dy * dilation, dx * dilation)
        for dy in range(-half, half + 1)
        for dx in range(-half, half + 1)
        if (dy, dx) != (0, 0)
    ]


Window = tuple[int, int, int, int]
"""A rectangle of pixels ``(y0, y1, x0, x1)``, half-open: rows y0..y1-1, columns x0..x1-1."""


def gather_offsets(
    x: Tensor,
    offsets: list[tuple[int, int]],
    *,
    fill: float = 0.0,
    window: Window | None = None,
) -> Tensor:
    """``out[:, :, k, y, x] = x[:, :, y + dy_k, x + dx_k]``, ``fill`` where that lies outside.

    x: (B, C, H, W) any dtype -> (B, C, len(offsets), h, w), h x w the ``window`` of centre pixels
    (whole image by default; neighbours may lie outside the window, they are read from ``x``).
    Slices of one padded copy rather than ``F.unfold``: no (B, C*K*K, H*W) intermediate, and it
    works for bool tensors too.
    """
    if x.dim() != 4:
        raise ValueError(f"expected x of shape (B, C, H, W), got {tuple(x.shape)}")
    height, width = x.shape[-2:]
    y0, y1, x0, x1 = window if window is not None else (0, height, 0, width)
    r = max((max(abs(dy), abs(dx)) for dy, dx in offsets), default=0)
    if x.dtype == torch.bool:
        padded = F.pad(x.to(torch.uint8), (r, r, r, r), value=int(bool(fill))).bool()
    else:
        padded = F.pad(x, (r, r, r, r), value=fill)
    return torch.stack(
        [padded[..., r + dy + y0 : r + dy + y1, r + dx + x0 : r + dx + x1] for dy, dx in offsets], dim=2
    )


def crop(x: Tensor, window: Window) -> Tensor:
    """The ``window`` of the last two dims of ``x`` (a view)."""
    y0, y1, x0, x1 = window
    return x[..., y0:y1, x0:x1]


def mask_window(mask: Tensor, *, margin: int = 0) -> Window | None:
    """Smallest window holding every True pixel of ``mask`` (..., H, W) in any batch item, grown
    by ``margin`` and clipped to the image; None when the mask is empty. Lets the losses skip the
    part of the crop that no box can reach (the same window for the whole batch)."""
    height, width = mask.shape[-2:]
    flat = mask.reshape(-1, height, width).any(dim=0)
    rows = flat.any(dim=1).nonzero()
    if rows.numel() == 0:
        return None
    cols = flat.any(dim=0).nonzero()
    return (
        max(int(rows[0]) - margin, 0),
        min(int(rows[-1]) + 1 + margin, height),
        max(int(cols[0]) - margin, 0),
        min(int(cols[-1]) + 1 + margin, width),
    )


def union_window(a: Window | None, b: Window | None) -> Window | None:
    """Smallest window holding both (None counts as empty)."""
    if a is None or b is None:
        return a if b is None else b
    return (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def unfold_neighbours(x: Tensor, kernel: int, dilation: int) -> Tensor:
    """Dilated K x K neighbours of every pixel: (B, C, H, W) -> (B, C, K*K-1, H, W), zero outside."""
    return gather_offsets(x, neighbour_offsets(kernel, dilation), fill=0.0)


def offsets_inside(
    height: int,
    width: int,
    offsets: list[tuple[int, int]],
    *,
    window: Window | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """(1, len(offsets), h, w) bool: True where p + offset_k lies inside the H x W image."""
    ones = torch.ones(1, 1, height, width, dtype=torch.bool, device=device)
    return gather_offsets(ones, offsets, fill=False, window=window)[:, 0]


def dilate_mask(mask: Tensor, margin: int) -> Tensor:
    """Grow a (B, 1, H, W) {0, 1} mask by ``margin`` px (square structuring element) -> bool.

    Two 1-D max-pools instead of one square one: same result, less work.
    """
    region = mask > 0
    if margin <= 0:
        return region
    size = 2 * margin + 1
    grown = F.max_pool2d(region.to(torch.float32), (size, 1), stride=1, padding=(margin, 0))
    grown = F.max_pool2d(grown, (1, size), stride=1, padding=(0, margin))
    return grown > 0
