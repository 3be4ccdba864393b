"""A mean-field CRF restricted to the box, in plain torch (issue 12, items 4 and 6).

The object's probability ``p`` is the unary term; the pairwise term is a Potts
model over each pixel's dilated K x K neighbours, weighted by how alike their
colours are (a Gaussian of the Lab distance) and how close they are.  Pixels
outside the box are background for sure, so the box's outside pulls differently
coloured pixels near its sides towards background and nothing else.

For two labels the mean-field update is a logistic one:
``logit q_i = logit p_i + w * sum_j k_ij (2 q_j - 1) / sum_j k_ij``,
with the messages normalised by each pixel's kernel mass so that ``weight`` means
the same at every resolution and neighbourhood size.

Used twice: as the sharpening step of the EMA teacher while training
(:mod:`box2mask.training.ema`) and as the optional full-resolution clean-up of
the network's masks (``-O edges=crf``, :mod:`box2mask.model.edges`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from box2mask.losses.neighbours import gather_offsets, neighbour_offsets

EPS = 1e-4


@dataclass(frozen=True)
class CRFConfig:
    iterations: int = 5
    kernel: int = 5            # K: neighbours on a dilated K x K grid
    dilation: int = 2
    colour_sigma: float = 4.0  # Lab units: neighbours this far apart in colour count e^-0.5 as much
    weight: float = 10.0       # pairwise strength against the unary logit
    # (sigma 4 and weight 10: the full-resolution clean-up's best of 12 settings on the three
    # cross-validation folds, docs/benchmarks.md "Full-resolution clean-up")

    def __post_init__(self):
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.colour_sigma <= 0 or self.weight < 0:
            raise ValueError("colour_sigma must be > 0 and weight >= 0")


def colour_kernel(lab: Tensor, config: CRFConfig) -> tuple[Tensor, list[tuple[int, int]]]:
    """Normalised pairwise weights ``(N, 1, K*K-1, H, W)`` of ``lab (N, 3, H, W)``, 0 towards outside the image."""
    offsets = neighbour_offsets(config.kernel, config.dilation)
    neighbours = gather_offsets(lab, offsets, fill=float("nan"))            # (N, 3, K, H, W)
    distance = (neighbours - lab.unsqueeze(2)).pow(2).sum(1, keepdim=True)  # (N, 1, K, H, W)
    reach = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    spatial = torch.tensor([-(dy * dy + dx * dx) / (2.0 * reach * reach) for dy, dx in offsets],
                           dtype=lab.dtype, device=lab.device).view(1, 1, -1, 1, 1)
    kernel = torch.exp(-distance / (2.0 * config.colour_sigma ** 2) + spatial)
    kernel = torch.nan_to_num(kernel, nan=0.0)
    return kernel / kernel.sum(2, keepdim=True).clamp_min(1e-6), offsets


def box_crf(probability: Tensor, lab: Tensor, inside: Tensor, config: CRFConfig = CRFConfig()) -> Tensor:
    """Mean-field marginals ``(N, 1, H, W)`` in [0, 1]; exactly 0 where ``inside`` is False.

    probability: (N, 1, H, W) in [0, 1]; lab: (N, 3, H, W) CIE Lab (box2mask.losses.rgb_to_lab);
    inside: (N, 1, H, W) bool, the box. No gradient flows: this makes targets and masks.
    """
    with torch.no_grad():
        p = probability.float().clamp(EPS, 1 - EPS)
        unary = torch.log(p) - torch.log1p(-p)
        kernel, offsets = colour_kernel(lab.float(), config)
        inside = inside.bool()
        q = torch.where(inside, p, torch.zeros_like(p))
        for _ in range(config.iterations):
            spins = gather_offsets(2.0 * q - 1.0, offsets, fill=-1.0)   # (N, 1, K, H, W): outside = background
            message = (kernel * spins).sum(2)
            q = torch.where(inside, torch.sigmoid(unary + config.weight * message), torch.zeros_like(q))
        return q
