"""Small building blocks of the trainable heads.

GroupNorm rather than BatchNorm: batches are a handful of clips, and train and
inference must behave the same.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels // 4) or 1, channels)


class ConvNormReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1):
        super().__init__(conv(cin, cout, kernel, stride), norm(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a skip (a 1x1 projection when the width changes)."""

    def __init__(self, cin: int, cout: int | None = None):
        super().__init__()
        cout = cout or cin
        self.body = nn.Sequential(conv(cin, cout), norm(cout), nn.ReLU(inplace=True), conv(cout, cout), norm(cout))
        self.skip = nn.Identity() if cin == cout else conv(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.skip(x))


def resize_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
