"""Segmentation decoder D(s_t, m_t, x_t) (seed 001 §3.5, after LWL's decoder).

The aggregated encoding ``s`` and the single-frame encoding ``m`` (stride 8) are
fused with the deep features, then upsampled step by step to the crop's full
resolution, taking in backbone features at strides 4 and 2 and a few channels
computed from the crop's pixels at stride 1.  The last skips are what lets the
mask follow real edges: the probe on davis16-dev found stride-8/16 read-outs
blocky, and the boundary measure F is where they lose.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from box2mask.model.layers import ConvNormReLU, ResBlock, conv


class Decoder(nn.Module):
    def __init__(self, channels: int, feat_dim: int, skip_channels: dict[int, int], width: int = 48):
        super().__init__()
        self.fuse8 = nn.Sequential(ConvNormReLU(2 * channels + feat_dim, width), ResBlock(width))
        self.skip4 = ConvNormReLU(skip_channels[4], 24, 1)
        self.up4 = nn.Sequential(ConvNormReLU(width + 24, 32), ResBlock(32))
        # strides 2 and 1 are where the pixels are: narrow, and no normalisation (cost on CPU)
        self.skip2 = nn.Sequential(conv(skip_channels[2], 16, 1), nn.ReLU(inplace=True))
        self.up2 = nn.Sequential(conv(32 + 16, 16), nn.ReLU(inplace=True), conv(16, 12), nn.ReLU(inplace=True))
        self.skip1 = nn.Sequential(conv(3, 8), nn.ReLU(inplace=True))
        self.up1 = nn.Sequential(conv(12 + 8, 8, 1), nn.ReLU(inplace=True), conv(8, 1))
        self.coarse = conv(width, 1, 1)
        self.coarse4 = conv(32, 1, 1)

    def forward(self, s: torch.Tensor, m: torch.Tensor, x: torch.Tensor, skips: dict[int, torch.Tensor],
                image: torch.Tensor, *, full: bool = True) -> torch.Tensor:
        """``s, m (N, C, S/8)``, ``x (N, D, S/8)``, ``skips[k] (N, *, S/k)``, ``image (N, 3, S)`` -> logits ``(N, 1, S, S)``.

        ``full=False`` stops at stride 4 and upsamples: the first pass only feeds the
        refinement's mask encoder (which works at stride 8), so its fine detail would be
        thrown away, and the two finest stages are most of the decoder's cost.
        """
        h8 = self.fuse8(torch.cat([s, m, x], dim=1))
        h4 = self.up4(torch.cat([_up(h8, skips[4]), self.skip4(skips[4])], dim=1))
        if not full:
            return _up(self.coarse4(h4) + _up(self.coarse(h8), h4), image)
        h2 = self.up2(torch.cat([_up(h4, skips[2]), self.skip2(skips[2])], dim=1))
        h1 = self.up1(torch.cat([_up(h2, image), self.skip1(image)], dim=1))
        # the coarse read-out anchors the logits; the fine path adds the detail
        return h1 + _up(self.coarse(h8), image)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
