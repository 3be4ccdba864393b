"""The boundary stage (issue 12, item 3): the first stage's mask re-read near one frame pixel per crop pixel.

The video network segments a crop of about 2.6x the box's size at 256-320 px, so
one of its pixels covers 2-3 frame pixels and its decoder reads out at stride 8
with a thin full-resolution path.  This stage cuts a second, tighter crop
(``cover`` x the box's longer side, at ``crop_size`` px: about 1.2 frame pixels
per crop pixel on a DAVIS object), resamples the first stage's probability into
it, and predicts a correction of that probability's logit from the colour image
and the frozen backbone's stride-2 and stride-4 features.  The correction starts
at zero (the last convolution is zero-initialised), so an untrained stage returns
its input.  It works on single frames: the video context is already in its input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from box2mask.crops import CropWindow, box_in_crop, extract, square_window, transfer
from box2mask.model.backbone import FrozenBackbone
from box2mask.model.layers import ConvNormReLU, ResBlock, conv

EPS = 0.01  # the input probability is clamped to [EPS, 1 - EPS] before its logit is taken


@dataclass(frozen=True)
class BoundaryConfig:
    crop_size: int = 320
    cover: float = 1.25   # crop side / the box's longer side
    width: int = 32       # channels at stride 4

    def to_dict(self) -> dict:
        return asdict(self)


def boundary_window(box: np.ndarray, config: BoundaryConfig, jitter: np.ndarray | None = None) -> CropWindow:
    """The stage's square window around ``box``: ``config.cover`` x its longer side."""
    return square_window(box, context=0.0, min_cover=config.cover, jitter=jitter)


def probability_logit(probability: torch.Tensor) -> torch.Tensor:
    p = probability.clamp(EPS, 1.0 - EPS)
    return torch.log(p) - torch.log1p(-p)


class BoundaryStage(nn.Module):
    def __init__(self, config: BoundaryConfig = BoundaryConfig(), *, backbone: FrozenBackbone | None = None):
        super().__init__()
        self.config = config
        self.backbone = backbone if backbone is not None else FrozenBackbone(strides=(2, 4))
        w, channels = config.width, self.backbone.channels
        self.in4 = nn.Sequential(ConvNormReLU(channels[4] + 2, w), ResBlock(w), ResBlock(w))
        self.skip2 = nn.Sequential(conv(channels[2], 16, 1), nn.ReLU(inplace=True))
        self.up2 = nn.Sequential(conv(w + 16 + 1, 16), nn.ReLU(inplace=True), conv(16, 16), nn.ReLU(inplace=True))
        self.skip1 = nn.Sequential(conv(3 + 1, 8), nn.ReLU(inplace=True))
        self.out = nn.Sequential(conv(16 + 8, 8, 1), nn.ReLU(inplace=True), conv(8, 1))  # 1x1 first: full resolution is costly
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, images: torch.Tensor, coarse: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """``images (N, 3, S, S)`` in [0, 1], ``coarse (N, 1, S, S)`` the first stage's probability and
        ``boxes (N, 1, S, S)`` the box drawn in {0, 1}, all in the stage's crop -> logits ``(N, 1, S, S)``."""
        feats = self.backbone(images, strides=(2, 4))
        c4, b4 = (F.interpolate(v, size=feats[4].shape[-2:], mode="area") for v in (coarse, boxes))
        h4 = self.in4(torch.cat([feats[4], c4, b4], dim=1))
        c2 = F.interpolate(coarse, size=feats[2].shape[-2:], mode="area")
        h2 = self.up2(torch.cat([_up(h4, feats[2]), self.skip2(feats[2]), c2], dim=1))
        h1 = self.out(torch.cat([_up(h2, images), self.skip1(torch.cat([images - 0.5, coarse], dim=1))], dim=1))
        return probability_logit(coarse) + h1


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


@dataclass(frozen=True)
class FineCrop:
    """One target frame as the boundary stage sees it: its window, the crop and the box drawn in it."""

    window: CropWindow
    image: np.ndarray | None   # (S, S, 3) uint8 (None once used)
    box: np.ndarray | None     # (S, S) float32 {0, 1}


def fine_crop(image: np.ndarray, box: np.ndarray, config: BoundaryConfig) -> FineCrop:
    """The stage's crop of one frame around ``box`` (CPU work, done where the frame is decoded)."""
    window = boundary_window(box, config)
    return FineCrop(window, extract(image, window, config.crop_size), box_in_crop(window, box, config.crop_size))


@torch.inference_mode()
def run_boundary(stage: BoundaryStage, crops: list[FineCrop], probabilities: list[np.ndarray],
                 windows: list[CropWindow], *, batch: int = 8) -> list[np.ndarray]:
    """The stage's probabilities ``(S, S) float32`` over each crop's window, from the first stage's
    ``probabilities`` over its ``windows`` (one of each per crop)."""
    device = next(stage.parameters()).device
    size = stage.config.crop_size
    out: list[np.ndarray] = []
    for start in range(0, len(crops), batch):
        group = range(start, min(start + batch, len(crops)))
        coarse = np.stack([transfer(probabilities[k].astype(np.float32), windows[k], crops[k].window, size)
                           for k in group])
        images = torch.from_numpy(np.stack([crops[k].image for k in group])).to(device)
        boxes = torch.from_numpy(np.stack([crops[k].box for k in group])).to(device).unsqueeze(1)
        logits = stage(images.permute(0, 3, 1, 2).float() / 255.0, torch.from_numpy(coarse).to(device).unsqueeze(1),
                       boxes)
        probs = torch.sigmoid(logits.float()).squeeze(1).cpu().numpy()
        out.extend(probs[k] for k in range(len(probs)))
    return out
