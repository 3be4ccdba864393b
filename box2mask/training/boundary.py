"""Training the boundary stage (:mod:`box2mask.model.boundary`) on top of a trained, frozen first stage.

Each sample is one frame cut at the stage's tight crop, with the first stage's
probability for that frame (a full-frame map, from the ``coarse`` source)
resampled into the same crop.  No mask enters; the targets are:

* the box (projection loss) and the colours (pairwise loss), at the stage's
  finer pixels;
* the first stage's own mask, away from its boundary (``anchor``: BCE to the
  thresholded input outside a band of ``anchor_band`` crop pixels each side of
  its edge), so that the stage moves the boundary and leaves the body alone;
* optionally a teacher run's pseudo-masks (GrabCut), also without their boundary band.

Checkpoints (the stage's weights, optimizer, iteration, sampler and torch random
states) are written atomically and resumed exactly, as for the main trainer.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from box2mask.atomic import atomic_path
from box2mask.losses import pairwise_colour_loss, projection_loss, rgb_to_lab, teacher_loss
from box2mask.model.backbone import is_backbone_key
from box2mask.model.boundary import BoundaryConfig, BoundaryStage
from box2mask.training.clips import ClipConfig, ClipSampler, away_from_boundary
from box2mask.training.trainer import CheckpointedRun, load_checkpoint


def boundary_clip_config(boundary: BoundaryConfig, teacher_band: int = 3) -> ClipConfig:
    """Single frames at the stage's crop (side ``cover`` x the box's longer side), jittered a little."""
    return ClipConfig(frames=1, crop_size=boundary.crop_size, context=(0.0, 0.0), min_cover=boundary.cover,
                      shift=0.04, scale_jitter=0.1, teacher_band=teacher_band)


@dataclass(frozen=True)
class BoundaryTrainConfig:
    iterations: int = 600
    batch: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    lr_steps: tuple[float, ...] = (0.6, 0.85)
    lr_factor: float = 0.2
    projection: float = 1.0
    pairwise: float = 1.0
    anchor: float = 1.0
    anchor_band: int = 6        # crop pixels each side of the input mask's edge where the anchor says nothing
    teacher: float = 0.5        # weight of the teacher runs' masks (0: not used)
    teacher_band: int = 3
    checkpoint_every: int = 100
    seed: int = 0
    boundary: BoundaryConfig = field(default_factory=BoundaryConfig)

    @property
    def clip(self) -> ClipConfig:
        return boundary_clip_config(self.boundary, self.teacher_band)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> "BoundaryTrainConfig":
        data = dict(data)
        boundary = BoundaryConfig(**data.pop("boundary", {}))
        if "lr_steps" in data:
            data["lr_steps"] = tuple(data["lr_steps"])
        return cls(**data, boundary=boundary)


def anchor_weights(coarse: np.ndarray, band: int) -> np.ndarray:
    """``(N, S, S)`` 1 where the input mask is trusted (farther than ``band`` px from its edge), else 0."""
    return np.stack([away_from_boundary(c, band) for c in coarse])


class BoundaryTrainer(CheckpointedRun):
    def __init__(self, config: BoundaryTrainConfig, sampler: ClipSampler, out_dir: Path | str, *,
                 stage: BoundaryStage | None = None, device: str | torch.device = "cpu"):
        self.config = config
        self.sampler = sampler
        self.out_dir = Path(out_dir)
        self.device = torch.device(device)
        torch.manual_seed(config.seed)
        self.stage = (stage or BoundaryStage(config.boundary)).to(self.device)
        params = [p for p in self.stage.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.iteration = 0

    def _tensors(self, batch: dict) -> dict[str, torch.Tensor]:
        as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(self.device).float()  # noqa: E731
        data = {"images": as_t(batch["images"][:, 0]).permute(0, 3, 1, 2) / 255.0}
        for key in ("boxes", "valid", "coarse", "teacher", "teacher_trusted"):
            data[key] = as_t(batch[key][:, 0]).unsqueeze(1)
        data["taught"] = as_t(batch["taught"][:, 0]).view(-1, 1, 1, 1)
        data["anchored"] = as_t(anchor_weights(batch["coarse"][:, 0], self.config.anchor_band)).unsqueeze(1)
        return data

    def losses(self, logits: torch.Tensor, data: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        valid = data["valid"]
        terms = {"projection": projection_loss(logits, data["boxes"], valid=valid),
                 "pairwise": pairwise_colour_loss(logits, rgb_to_lab(data["images"]), data["boxes"], valid=valid),
                 "anchor": teacher_loss(logits, (data["coarse"] >= 0.5).float(), valid * data["anchored"])}
        if c.teacher and bool(data["taught"].any()):
            terms["teacher"] = teacher_loss(logits, data["teacher"], valid * data["taught"] * data["teacher_trusted"])
        return terms

    def step(self) -> dict[str, float]:
        self.stage.train()
        start = time.perf_counter()
        data = self._tensors(self.sampler.batch(self.config.batch))
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(self.iteration)
        logits = self.stage(data["images"], data["coarse"], data["boxes"])
        terms = self.losses(logits, data)
        total = sum(getattr(self.config, name) * value for name, value in terms.items())
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.stage.parameters(), 5.0)
        self.optimizer.step()
        self.iteration += 1
        return {"iteration": self.iteration, "total": float(total.detach()),
                **{k: float(v.detach()) for k, v in terms.items()},
                "lr": self.learning_rate(self.iteration - 1), "seconds": time.perf_counter() - start}

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.stage.state_dict().items() if not is_backbone_key(k)}

    def save_checkpoint(self) -> None:
        state = {"iteration": self.iteration, "model": self.trainable_state_dict(),
                 "optimizer": self.optimizer.state_dict(), "sampler": self.sampler.state(),
                 "torch_rng": torch.get_rng_state(), "config": self.config.to_dict()}
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(state, tmp)

    def resume(self) -> bool:
        if not self.checkpoint_path.is_file():
            return False
        state = load_checkpoint(self.checkpoint_path, map_location=self.device)
        self.check_same_config(BoundaryTrainConfig.from_dict(state["config"]), self.checkpoint_path)
        self.stage.load_state_dict(state["model"], strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.restore(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        self.iteration = int(state["iteration"])
        return True
