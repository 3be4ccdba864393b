"""Training the video box-to-mask network from boxes only.

Each step draws a batch of clips (:mod:`box2mask.training.clips`), runs the
network, and scores both the first and the refined masks (seed 001 Eq. 4) with
the box-supervised losses: projection, colour pairwise, motion-aware affinity
and temporal (:mod:`box2mask.losses`), the last three phased in by a warm-up.
No mask ever enters: the only targets are boxes, colours and motion.

Checkpoints (trainable weights, optimizer, iteration, sampler and torch random
states) are written atomically every ``checkpoint_every`` steps; ``resume``
continues exactly where the last checkpoint left off.  Logs are JSON lines.

A data-parallel run (``pipelines/train_distributed.py``) builds one trainer per
worker with a :class:`DataParallel` part: the forward and backward go through the
wrapped module (DDP) while state dicts and checkpoints keep using the plain
network, so their files are the same whatever the worker count.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from box2mask.atomic import atomic_path
from box2mask.losses import (LossWeights, box_prior_loss, combine, motion_affinity_loss, pairwise_colour_loss,
                             projection_loss, rgb_to_lab, teacher_loss, temporal_loss)
from box2mask.model.network import NetworkConfig, VideoBoxToMask
from box2mask.training.clips import ClipConfig, ClipSampler
from box2mask.training.ema import EmaTeacher

# The loss terms a training log line reports (when the run uses them), in the order progress lines show them.
LOGGED_LOSSES = ("projection", "teacher", "pairwise", "affinity", "temporal")


@dataclass(frozen=True)
class TrainConfig:
    iterations: int = 20_000
    batch: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    lr_steps: tuple[float, ...] = (0.6, 0.85)   # fractions of the run where the rate drops
    lr_factor: float = 0.2
    backbone_lr: float = 0.1                    # the tuned backbone blocks' rate, as a share of lr
    first_pass_weight: float = 1.0              # seed 001 Eq. 4 weights both passes equally
    object_dropout: float = 0.0                 # chance per clip of hiding m_t (VideoBoxToMask.forward)
    support_dropout: float = 0.0                # chance per frame that its box is left out of the aggregation
    checkpoint_every: int = 250
    seed: int = 0
    ema_momentum: float = 0.0                   # > 0: an EMA teacher of the network (box2mask.training.ema)
    ema_start: int = 0                          # from this step its CRF-sharpened masks replace the teacher runs'
    losses: LossWeights = field(default_factory=LossWeights)
    clip: ClipConfig = field(default_factory=ClipConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        losses = LossWeights(**data.pop("losses", {}))
        clip = data.pop("clip", {})
        clip = ClipConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in clip.items()})
        network = NetworkConfig.from_dict(data.pop("network", {}))
        if "lr_steps" in data:
            data["lr_steps"] = tuple(data["lr_steps"])
        return cls(**data, losses=losses, clip=clip, network=network)


def to_tensors(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """Numpy clip batch -> float tensors ``(B, T, C, S, S)`` on ``device``."""
    images = torch.from_numpy(batch["images"]).to(device).permute(0, 1, 4, 2, 3).float() / 255.0
    out = {"images": images}
    for key in ("boxes", "valid", "motion", "teacher", "teacher_trusted"):
        out[key] = torch.from_numpy(batch[key]).to(device).unsqueeze(2).float()
    out["taught"] = torch.from_numpy(batch["taught"]).to(device).float()  # (B, T)
    out["has_motion"] = bool(np.all(batch["has_motion"] > 0))
    return out


def support_weights(shape: tuple[int, int], dropout: float, device: torch.device) -> torch.Tensor | None:
    """Aggregation weights ``(B, T)`` with each frame's box left out at chance ``dropout``.

    A left-out frame is still decoded and still scored against its own box, so its
    mask has to come from what the other frames' boxes taught the aggregation: this
    is what makes the network use several frames (with every frame's own box in
    the objective, one frame was enough and T did not matter). At least one frame
    of each clip keeps its box.
    """
    if dropout <= 0:
        return None
    keep = (torch.rand(shape, device=device) >= dropout).float()
    none_kept = keep.sum(1) == 0
    if none_kept.any():
        keep[none_kept, torch.randint(shape[1], (int(none_kept.sum()),), device=device)] = 1.0
    return keep


def loss_terms(logits: torch.Tensor, data: dict[str, torch.Tensor], lab: torch.Tensor,
               weights: LossWeights) -> dict[str, torch.Tensor]:
    """The box-supervised loss terms of one set of clip logits ``(B, T, 1, S, S)``."""
    flat = logits.flatten(0, 1)
    boxes, valid = data["boxes"].flatten(0, 1), data["valid"].flatten(0, 1)
    terms = {"projection": projection_loss(flat, boxes, valid=valid)}
    if weights.box_prior:
        terms["box_prior"] = box_prior_loss(flat, boxes, valid=valid)
    if weights.teacher and bool(data["taught"].any()):
        taught = data["taught"].flatten(0, 1).view(-1, 1, 1, 1)
        trusted = data["teacher_trusted"].flatten(0, 1)
        terms["teacher"] = teacher_loss(flat, data["teacher"].flatten(0, 1), valid * taught * trusted)
    if weights.pairwise:
        terms["pairwise"] = pairwise_colour_loss(flat, lab.flatten(0, 1), boxes, valid=valid)
    if weights.affinity and data["has_motion"]:
        terms["affinity"] = motion_affinity_loss(flat, lab.flatten(0, 1), data["motion"].flatten(0, 1), boxes,
                                                 valid=valid)
    if weights.temporal and logits.shape[1] > 1:
        terms["temporal"] = temporal_loss(logits, lab, data["boxes"], valid=data["valid"])
    return terms


@dataclass(frozen=True)
class DataParallel:
    """This process's part in a data-parallel run (a trainer without one trains alone, as before).

    ``wrap`` turns the network into the module the forward and backward run through
    (``DistributedDataParallel``, which averages gradients over the workers); ``batch`` is
    this worker's share of ``TrainConfig.batch``; the loss is multiplied by ``loss_scale``
    (the share times the worker count over the global batch) so that the average DDP takes
    weighs every clip of the global batch alike when the shares differ.
    """

    wrap: Callable[[torch.nn.Module], torch.nn.Module]
    batch: int
    loss_scale: float = 1.0


class CheckpointError(ValueError):
    """A checkpoint file that is not one of ours (or is damaged)."""


def load_checkpoint(path: Path | str, *, map_location: str | torch.device = "cpu") -> dict:
    """A training checkpoint, read with ``weights_only=True``: tensors, numbers, strings, lists and dicts.

    Nothing in the file is executed: a pickle that asks to build any other object
    (a ``__reduce__`` payload) is refused with a :class:`CheckpointError` naming the file.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle, zip and key errors alike for a file that is not ours
        text = " ".join(str(exc).split())
        reason = ("it asks to build objects other than tensors, numbers and strings, which is refused"
                  if "weights only" in text.lower() else f"{type(exc).__name__}: {text[:200]}")
        raise CheckpointError(f"{path} is not a box2mask training checkpoint ({reason}); "
                              "move it aside, or train into a new --out") from None
    missing = [k for k in ("iteration", "model", "optimizer", "config") if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a box2mask training checkpoint (missing {', '.join(missing)})")
    return state


class CheckpointedRun:
    """What the trainers share: the run folder's files, the stepped learning rate, the loop that steps,
    logs a JSON line per step and checkpoints, and the check that a checkpoint is this configuration's.

    A subclass sets ``config`` (with ``iterations``, ``lr``, ``lr_steps``, ``lr_factor``,
    ``checkpoint_every``), ``out_dir`` and ``iteration``, and defines ``step`` and ``save_checkpoint``.
    """

    out_dir: Path
    iteration: int

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.pt"

    @property
    def log_path(self) -> Path:
        return self.out_dir / "train_log.jsonl"

    def learning_rate(self, iteration: int) -> float:
        drops = sum(iteration >= f * self.config.iterations for f in self.config.lr_steps)
        return self.config.lr * self.config.lr_factor ** drops

    def step(self) -> dict[str, float]:
        raise NotImplementedError

    def save_checkpoint(self) -> None:
        raise NotImplementedError

    def check_same_config(self, saved, source: Path | str) -> None:
        """Refuse a checkpoint written with another configuration (its length may differ: a run may be extended)."""
        if replace(saved, iterations=self.config.iterations) != self.config:
            raise ValueError(f"{source} was written with a different training configuration; "
                             "use a new output folder or the same options")

    def run(self, *, on_log: Callable[[dict], None] | None = None) -> None:
        """Train up to ``config.iterations``, checkpointing and logging as it goes."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as log_file:
            while self.iteration < self.config.iterations:
                log = self.step()
                log_file.write(json.dumps(log) + "\n")
                log_file.flush()
                if on_log is not None:
                    on_log(log)
                if self.iteration % self.config.checkpoint_every == 0 or self.iteration == self.config.iterations:
                    self.save_checkpoint()


class Trainer(CheckpointedRun):
    def __init__(self, config: TrainConfig, sampler: ClipSampler, out_dir: Path | str, *,
                 device: str | torch.device = "cpu", network: VideoBoxToMask | None = None,
                 parallel: DataParallel | None = None):
        self.config = config
        self.sampler = sampler
        self.out_dir = Path(out_dir)
        self.device = torch.device(device)
        torch.manual_seed(config.seed)
        self.net = (network or VideoBoxToMask(config.network)).to(self.device)
        self.parallel = parallel
        # the module the steps run through; state dicts and checkpoints use self.net
        self.model: torch.nn.Module = parallel.wrap(self.net) if parallel else self.net
        self.batch = parallel.batch if parallel else config.batch
        tuned = {id(p) for p in self.net.tuned.parameters()} if self.net.tuned is not None else set()
        heads = [p for p in self.net.parameters() if p.requires_grad and id(p) not in tuned]
        groups = [{"params": heads, "lr_scale": 1.0}]
        if tuned:
            groups.append({"params": list(self.net.tuned.parameters()), "lr_scale": config.backbone_lr})
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
        self.amp = self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.iteration = 0
        self.ema = EmaTeacher(self.net, config.ema_momentum) if config.ema_momentum > 0 else None

    def step(self) -> dict[str, float]:
        """One optimisation step; returns the logged loss terms."""
        self.model.train()
        start = time.perf_counter()
        data = to_tensors(self.sampler.batch(self.batch), self.device)
        loaded = time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(self.iteration) * group.get("lr_scale", 1.0)
        with torch.autocast(self.device.type, enabled=self.amp):
            out = self.model(data["images"], data["boxes"], object_dropout=self.config.object_dropout,
                           frame_weights=support_weights(data["boxes"].shape[:2], self.config.support_dropout,
                                                         self.device))
        lab = rgb_to_lab(data["images"].flatten(0, 1)).view_as(data["images"])
        if self.ema is not None and self.iteration >= self.config.ema_start:
            data.update(self.ema.targets(data, out["refined"].detach().float(), lab))
        terms: dict[str, torch.Tensor] = {}
        for name, weight in (("first", self.config.first_pass_weight), ("refined", 1.0)):
            if name not in out or not weight:
                continue
            for key, value in loss_terms(out[name].float(), data, lab, self.config.losses).items():
                terms[key] = terms.get(key, 0.0) + weight * value
        total, log = combine(terms, self.config.losses, self.iteration)
        self.optimizer.zero_grad(set_to_none=True)
        loss = total * self.parallel.loss_scale if self.parallel else total
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.net)
        self.iteration += 1
        log.update(iteration=self.iteration, lr=self.learning_rate(self.iteration - 1),
                   seconds=time.perf_counter() - start, data_seconds=loaded - start,
                   lambda_=float(self.net.aggregate.log_lambda.detach().exp()))
        return log

    def checkpoint_state(self) -> dict:
        """What a checkpoint holds (``save_checkpoint`` writes it; a data-parallel run adds every worker's part)."""
        return {
            "iteration": self.iteration,
            "model": self.net.trainable_state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "sampler": self.sampler.state(),
            "torch_rng": torch.get_rng_state(),
            "config": self.config.to_dict(),
            **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
        }

    def save_checkpoint(self) -> None:
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(self.checkpoint_state(), tmp)

    def resume(self) -> bool:
        """Continue from the checkpoint in ``out_dir`` if there is one."""
        if not self.checkpoint_path.is_file():
            return False
        self.restore(load_checkpoint(self.checkpoint_path, map_location=self.device), self.checkpoint_path)
        return True

    def restore(self, state: dict, source: Path | str = "the checkpoint") -> None:
        """Continue from a checkpoint's content (:func:`load_checkpoint`); ``source`` names it in errors."""
        self.check_same_config(TrainConfig.from_dict(state["config"]), source)
        self.net.load_trainable_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.sampler.restore(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])  # same config as checked above, so the file has one
        self.iteration = int(state["iteration"])
