"""Object encoders (seed 001 §3.1, §3.3 and appendix B).

``ObjectEncoder`` B(x_t, b_t) -> (e_t, w_t, m_t): the box, drawn as a mask at crop
resolution, goes through a convolution, a max-pool and residual blocks down to
the stride of the deep features, is concatenated with them and reduced; two
heads give the embedding ``e`` and its positive confidence weight ``w`` for the
aggregation, and a separate branch gives the single-frame encoding ``m`` that
goes straight to the decoder.

``MaskEncoder`` B^(y_t) -> (e^_t, w^_t) does the same from a predicted mask for
the refinement pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from box2mask.model.layers import ConvNormReLU, ResBlock, conv


class _MaskPath(nn.Sequential):
    """Mask (N, k, S, S) -> features at stride 8: conv s2, max-pool, residual, conv s2, residual."""

    def __init__(self, cin: int, width: int):
        super().__init__(
            ConvNormReLU(cin, width // 2, 3, stride=2),
            nn.MaxPool2d(2),
            ResBlock(width // 2),
            ConvNormReLU(width // 2, width, 3, stride=2),
            ResBlock(width),
        )


class _Fuse(nn.Module):
    """Mask features + deep features -> shared representation."""

    def __init__(self, mask_width: int, feat_dim: int, width: int):
        super().__init__()
        self.block = ResBlock(mask_width + feat_dim, width)

    def forward(self, mask_feats: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return self.block(torch.cat([mask_feats, feats], dim=1))


class ObjectEncoder(nn.Module):
    def __init__(self, feat_dim: int, channels: int = 16, width: int = 32, mask_inputs: int = 1):
        super().__init__()
        self.mask_path = _MaskPath(mask_inputs, width)
        self.fuse = _Fuse(width, feat_dim, width)
        self.embed = conv(width, channels)
        self.weight = conv(width, channels)
        self.single_path = _MaskPath(mask_inputs, width)
        self.single_fuse = _Fuse(width, feat_dim, width)
        self.single = nn.Sequential(conv(width, channels), nn.ReLU(inplace=True))

    def forward(self, masks: torch.Tensor, feats: torch.Tensor, *,
                single: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``masks (N, k, S, S)``, ``feats (N, D, S/8, S/8)`` -> ``e, w, m`` each ``(N, C, S/8, S/8)``.

        ``single=False`` skips the single-frame branch (``m`` is then zero) for decoders that do not read it.
        """
        h = self.fuse(self.mask_path(masks), feats)
        e, w = self.embed(h), F.softplus(self.weight(h))
        if not single:
            return e, w, torch.zeros_like(e)
        m = self.single(self.single_fuse(self.single_path(masks), feats))
        return e, w, m


class MaskEncoder(nn.Module):
    def __init__(self, feat_dim: int, channels: int = 16, width: int = 32, mask_inputs: int = 2):
        super().__init__()
        self.mask_path = _MaskPath(mask_inputs, width)
        self.fuse = _Fuse(width, feat_dim, width)
        self.embed = conv(width, channels)
        self.weight = conv(width, channels)

    def forward(self, masks: torch.Tensor, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fuse(self.mask_path(masks), feats)
        return self.embed(h), F.softplus(self.weight(h))
