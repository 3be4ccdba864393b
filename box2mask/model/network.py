"""The video box-to-mask network (seed 001, Fig. 2), trained here from boxes only.

Per frame: frozen backbone features -> deep features ``x_t`` (stride 8, D
channels) and the object encoder's ``(e_t, w_t, m_t)`` from the box.  Over the
clip: aggregation -> ``s_t`` -> decoder -> first masks ``y_t``.  Refinement: a
mask encoder reads ``y_t`` (and the box), a second aggregation solves again, the
same decoder gives the refined masks.  Everything runs on square crops around
each frame's box (see :mod:`box2mask.crops`).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn

from box2mask.model.aggregation import SteepestDescentAggregation
from box2mask.model.backbone import FrozenBackbone, backbone_spec, is_backbone_key
from box2mask.model.boundary import BoundaryConfig, BoundaryStage
from box2mask.model.decoder import Decoder
from box2mask.model.encoder import MaskEncoder, ObjectEncoder
from box2mask.model.layers import ConvNormReLU, ResBlock, conv, resize_to


@dataclass(frozen=True)
class NetworkConfig:
    feat_dim: int = 64          # D: deep features for aggregation
    channels: int = 16          # C: embedding channels (seed 001: 16)
    kernel: int = 3             # K: aggregation filter size (seed 001: 3)
    encoder_width: int = 32
    decoder_width: int = 48
    train_iterations: int = 5   # steepest-descent steps in training (seed 001: 5)
    test_iterations: int = 15   # ... and at inference (seed 001: 15)
    object_path: bool = True    # feed the single-frame encoding m_t to the decoder (seed 001 "+ m_t")
    encoder_features: bool = True  # the object encoder reads x_t with the box (else the box alone)
    boundary: BoundaryConfig | None = None  # a boundary stage (box2mask.model.boundary) after the refined masks
    backbone: str = "lite0"     # the frozen ImageNet backbone: "lite0" or "lite2" (box2mask.model.backbone)
    tuned_blocks: int = 0       # the backbone's last N blocks up to its stride-16 map, copied and trained

    def __post_init__(self):
        spec = backbone_spec(self.backbone)  # an unknown name is refused here, not at the first forward pass
        most = spec.pyramid[16] - spec.pyramid[8]  # the stride-8 map (and the ones before) stay frozen
        if not 0 <= self.tuned_blocks <= most:
            raise ValueError(f"tuned_blocks must be 0 to {most} for {self.backbone}, not {self.tuned_blocks}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NetworkConfig":
        data = dict(data)
        boundary = data.pop("boundary", None)
        return cls(**data, boundary=BoundaryConfig(**boundary) if boundary is not None else None)


class DeepFeatures(nn.Module):
    """Backbone strides 8 and 16 -> ``x`` at stride 8 with D channels."""

    def __init__(self, feat_dim: int, channels: dict[int, int]):
        super().__init__()
        self.p8 = conv(channels[8], feat_dim, 1)
        self.p16 = conv(channels[16], feat_dim, 1)
        self.mix = nn.Sequential(ConvNormReLU(feat_dim, feat_dim), ResBlock(feat_dim))

    def forward(self, f8: torch.Tensor, f16: torch.Tensor) -> torch.Tensor:
        return self.mix(self.p8(f8) + resize_to(self.p16(f16), f8))


class VideoBoxToMask(nn.Module):
    def __init__(self, config: NetworkConfig = NetworkConfig(), *, backbone: FrozenBackbone | None = None):
        super().__init__()
        self.config = config
        self.backbone = backbone if backbone is not None else FrozenBackbone(name=config.backbone)
        if self.backbone.spec.name != config.backbone:
            raise ValueError(f"the network is configured for the {config.backbone} backbone, "
                             f"not the {self.backbone.spec.name} one it was given")
        d, c, channels = config.feat_dim, config.channels, self.backbone.channels
        self.deep = DeepFeatures(d, channels)
        # trained copies of the backbone's last blocks (their keys are not backbone keys: weights files keep them)
        self.tuned_from = self.backbone.spec.pyramid[16] + 1 - config.tuned_blocks
        self.tuned = (nn.ModuleList(copy.deepcopy(b) for b in self.backbone.blocks[self.tuned_from:self.tuned_from
                                                                                   + config.tuned_blocks])
                      if config.tuned_blocks else None)
        for p in self.tuned.parameters() if self.tuned is not None else ():
            p.requires_grad_(True)
        self.encoder = ObjectEncoder(d, c, config.encoder_width, mask_inputs=1)
        self.mask_encoder = MaskEncoder(d, c, config.encoder_width, mask_inputs=2)
        self.aggregate = SteepestDescentAggregation(d, c, kernel=config.kernel)
        self.aggregate_refine = SteepestDescentAggregation(d, c, kernel=config.kernel)
        self.decoder = Decoder(c, d, {4: channels[4], 2: channels[2]}, width=config.decoder_width)
        # trained on its own, after the rest (box2mask.training.boundary); it shares the frozen backbone
        self.boundary = (BoundaryStage(config.boundary, backbone=self.backbone)
                         if config.boundary is not None else None)

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Everything but the frozen backbone (which is rebuilt from its package), wherever it is shared."""
        return {k: v for k, v in self.state_dict().items() if not is_backbone_key(k)}

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Strict load of the trained part: missing or unexpected keys are errors."""
        expected = set(self.trainable_state_dict())
        missing, unexpected = expected - set(state), set(state) - expected
        if missing or unexpected:
            raise KeyError(f"weights do not match the network: missing {sorted(missing)[:5]}, "
                           f"unexpected {sorted(unexpected)[:5]}")
        self.load_state_dict(state, strict=False)

    def frame_features(self, images: torch.Tensor) -> dict:
        """Per-frame work that does not depend on the clip: ``images (N, 3, S, S)`` in [0, 1]."""
        if self.tuned is None:
            feats = self.backbone(images)
        else:
            feats, h = self.backbone.trunk(images, self.tuned_from, strides=(2, 4, 8))
            for block in self.tuned:
                h = block(h)
            feats[16] = h.contiguous()
        return {"x": self.deep(feats[8], feats[16]), "skips": {4: feats[4], 2: feats[2]}, "image": images}

    def forward(self, images: torch.Tensor, boxes: torch.Tensor, *, frame_weights: torch.Tensor | None = None,
                iterations: int | None = None, refine: bool = True, features: dict | None = None,
                object_dropout: float = 0.0, outputs: torch.Tensor | None = None) -> dict:
        """Masks for clips of T frames.

        ``images (B, T, 3, S, S)`` in [0, 1]; ``boxes (B, T, 1, S, S)`` the box drawn
        as a {0, 1} mask in crop coordinates; ``frame_weights (B, T)`` 0 for padding
        frames.  Returns ``{"first": logits, "refined": logits}`` each ``(B, T, 1, S, S)``
        (``refined`` only when ``refine``).  ``features`` may carry precomputed
        :meth:`frame_features` for the ``B*T`` frames.

        ``object_dropout`` (training only): the chance, per clip, that the decoder is denied
        the per-frame object features ``m_t``. With ``m_t`` always there, the decoder learnt to
        segment each frame from its own box and to ignore the aggregated scores ``s_t`` (and so
        the other frames): zeroing ``s_t`` changed 0.02 % of pixels. Hiding ``m_t`` at times
        makes it read ``s_t`` when ``m_t`` is absent; an 800-step fine-tune with 0.5 did not
        make it rely on ``s_t`` when ``m_t`` is there (docs/benchmarks.md); the shipped weights
        are built without the object path instead (``NetworkConfig.object_path``).
        
        ``outputs (B, T) bool`` (inference): the members whose masks are wanted. The last,
        full-resolution decode runs for those only; the others (support and filler frames,
        which only lend their features to the aggregation) keep the first pass's stride-4
        logits there. Each frame's decode depends on its own inputs alone, so the wanted
        masks do not change.
        """
        b, t = images.shape[:2]
        if iterations is None:
            iterations = self.config.train_iterations if self.training else self.config.test_iterations
        flat_img = images.flatten(0, 1)
        flat_box = boxes.flatten(0, 1)
        f = features if features is not None else self.frame_features(flat_img)
        x = f["x"]
        # encoder_features=False: e_t, w_t see only the box, so the filter z alone learns the object's appearance.
        # object_path=False: m_t = 0 and the mask comes from the clip's aggregated scores (docs/network.md)
        e, w, m = self.encoder(flat_box, x if self.config.encoder_features else torch.zeros_like(x),
                               single=self.config.object_path)
        if self.training and object_dropout > 0:
            keep = (torch.rand(b, device=m.device) >= object_dropout).to(m.dtype)
            m = m * keep.repeat_interleave(t).view(-1, 1, 1, 1)
        unflat = lambda v: v.view(b, t, *v.shape[1:])  # noqa: E731
        cols = self.aggregate.unfold(unflat(x))  # shared by both aggregation passes
        s = self.aggregate(unflat(x), unflat(e), unflat(w), iterations=iterations, frame_weights=frame_weights,
                           cols=cols)
        # with refinement ahead, the first masks only need stride-4 detail (see Decoder)
        wanted = None if outputs is None else outputs.reshape(-1).nonzero().squeeze(1)
        if refine:
            first = self.decoder(s.flatten(0, 1), m, x, f["skips"], f["image"], full=False)
            e2, w2 = self.mask_encoder(torch.cat([torch.sigmoid(first), flat_box], dim=1), x)
            s2 = self.aggregate_refine(unflat(x), unflat(e2), unflat(w2), iterations=iterations,
                                       frame_weights=frame_weights, cols=cols)
            refined = self._decode_full(s2.flatten(0, 1), m, x, f, first, wanted)
            return {"first": unflat(first), "refined": unflat(refined)}
        coarse = (self.decoder(s.flatten(0, 1), m, x, f["skips"], f["image"], full=False)
                  if wanted is not None else None)
        return {"first": unflat(self._decode_full(s.flatten(0, 1), m, x, f, coarse, wanted))}

    def _decode_full(self, s: torch.Tensor, m: torch.Tensor, x: torch.Tensor, f: dict,
                     others: torch.Tensor | None, wanted: torch.Tensor | None) -> torch.Tensor:
        """The full-resolution decode of the frames in ``wanted`` (all when ``None``); ``others`` elsewhere."""
        if wanted is None:
            return self.decoder(s, m, x, f["skips"], f["image"])
        out = others.clone()
        if wanted.numel():
            pick = lambda v: v.index_select(0, wanted)  # noqa: E731
            out[wanted] = self.decoder(pick(s), pick(m), pick(x), {k: pick(v) for k, v in f["skips"].items()},
                                       pick(f["image"])).to(out.dtype)
        return out
