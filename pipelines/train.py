"""The training job: datasets (boxes only) -> clip sampler -> trainer -> checkpoints and weights.

Sequences come from the dataset readers as :class:`~box2mask.structures.Sequence`
objects, which carry frames and boxes and nothing else, so a mask cannot reach
the losses whatever the source.  Motion for the affinity loss is read from a
cache written by ``box2mask motion`` (``DIR/<sequence>/<frame stem>.png``) or
computed on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np

from box2mask.datasets import open_dataset
from box2mask.devices import pick_device
from box2mask.datasets.manifest import scan
from box2mask.errors import Box2MaskError
from box2mask.losses import LossWeights
from box2mask.model.inference import InferenceConfig
from box2mask.model.network import NetworkConfig, VideoBoxToMask
from box2mask.structures import Problem, Sequence
from box2mask.training.clips import ClipSampler, MotionSource
from box2mask.training.teacher import TeacherMasks
from box2mask.training.trainer import TrainConfig, Trainer, load_checkpoint


MASK_DATASETS = {"davis"}
"""Layouts whose boxes are derived from masks: evaluation data, refused for training."""


@dataclass(frozen=True)
class DataSource:
    dataset: str
    root: Path
    weight: float = 1.0
    split: str | None = None
    sequences: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, spec: str) -> "DataSource":
        """``NAME:ROOT[:WEIGHT]``, e.g. ``lasot:/data/LaSOT:0.5``."""
        name, sep, rest = spec.partition(":")
        if not sep or not rest:
            raise Box2MaskError(f"--data {spec!r}: expected NAME:ROOT[:WEIGHT], e.g. got10k:/data/GOT-10k/train")
        root, weight = rest, 1.0
        head, sep, tail = rest.rpartition(":")
        if sep:
            try:
                weight = float(tail)
                root = head
            except ValueError:
                pass
        return cls(name, Path(root), weight)

    def __post_init__(self) -> None:
        if self.dataset in MASK_DATASETS:
            raise Box2MaskError(
                f"{self.dataset!r} folders hold masks and are for evaluation only; training reads boxes only. "
                "Give the boxes in a box-only layout (got10k, lasot or folder; see docs/formats.md)")


def load_sources(sources: list[DataSource], *,
                 on_problem: Callable[[Problem], None] | None = None) -> list[tuple[list[Sequence], float]]:
    """Read every source; invalid sequences are reported through ``on_problem`` and skipped."""
    pools = []
    for source in sources:
        reader = open_dataset(source.dataset, source.root, split=source.split)
        ids = list(source.sequences) if source.sequences else None
        seqs = []
        for result in scan(reader, ids):
            if result.sequence is None:
                for p in result.problems:
                    if on_problem:
                        on_problem(p)
                continue
            if any(t.visible.any() for t in result.sequence.tracks):
                seqs.append(result.sequence)
        pools.append((seqs, source.weight))
    return pools


def cached_motion(folder: Path) -> MotionSource:
    """Motion maps from a ``box2mask motion`` output folder (``None`` where a map is missing)."""
    from box2mask.motion.output import read_map_png

    def source(sequence: Sequence, frame: int) -> np.ndarray | None:
        path = folder / sequence.id / f"{sequence.frame_stem(frame)}.png"
        return read_map_png(path) if path.is_file() else None

    return source


def live_motion(cache_size: int = 512) -> MotionSource:
    """Motion maps computed when first asked for (full configuration), kept in a small cache."""
    from box2mask.motion.stream import motion_maps

    cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def compute(sequence: Sequence, frame: int) -> np.ndarray:
        key = (sequence.id, frame)
        if key not in cache:
            cache[key] = next(iter(motion_maps(sequence, indices=[frame]))).map
            while len(cache) > cache_size:
                cache.popitem(last=False)
        return cache[key]

    return compute


TEACHER_WEIGHT = 0.5        # the teacher term's weight when teacher runs are given and no weight is
WARMUP_FRACTION = 0.25      # the pairwise/affinity/temporal terms ramp in over this share of the run


@dataclass(frozen=True)
class TrainPreset:
    """A named training recipe: the value of each ``box2mask train`` option it sets where the option is
    not given, and the inference defaults its weights file is exported with."""

    iterations: int
    backbone: str
    object_path: bool
    support_dropout: float
    loss_weights: str                   # ``--loss-weights`` (the teacher keeps TEACHER_WEIGHT when given)
    crop_size: int                      # inference: crop side the exported weights predict at
    edges: str                          # inference: the full-resolution clean-up

    def inference(self) -> InferenceConfig:
        return replace(InferenceConfig(), crop_size=self.crop_size, edges=self.edges)

    def options(self) -> dict[str, object]:
        """The ``box2mask train`` parameters this preset sets, by parameter name."""
        return {"iterations": self.iterations, "backbone": self.backbone, "object_path": self.object_path,
                "support_dropout": self.support_dropout, "loss_weights": self.loss_weights}


PRESETS: dict[str, TrainPreset] = {
    # the shipped weights' first stage, the recipe measured on the cross-validation folds
    # (benchmarks/cv.py's r6-lite2-2k; tests/training tie the two), with the inference defaults the shipped file
    # got on the folds (docs/benchmarks.md)
    "shipped": TrainPreset(
        iterations=2000, backbone="lite2", object_path=False, support_dropout=0.3,
        loss_weights="pairwise=0.4,affinity=0.3,temporal=0.3", crop_size=320, edges="crf"),
}


def training_loss_weights(iterations: int, *, terms: set[str], overrides: dict[str, float] | None = None,
                          taught: bool = False, warmup: int | None = None) -> LossWeights:
    """The loss weights of a training run: the library's defaults, the teacher at :data:`TEACHER_WEIGHT`
    when a teacher is given, ``overrides`` (``--loss-weights``) on top, the terms not in ``terms`` off
    (projection is always on), and a warm-up of :data:`WARMUP_FRACTION` of the run unless given."""
    chosen = {**({"teacher": TEACHER_WEIGHT} if taught else {}), **(overrides or {})}
    off = {t: 0.0 for t in ("pairwise", "affinity", "temporal") if t not in terms}
    return replace(LossWeights(**chosen), **off,
                   warmup_length=warmup if warmup is not None else int(iterations * WARMUP_FRACTION))


def network_for_training(init_weights: Path | None, *, object_path: bool | None = None,
                         encoder_features: bool | None = None, backbone: str | None = None,
                         tuned_blocks: int | None = None) -> NetworkConfig:
    """The network to train: default sizes, and the wiring, backbone, tuned backbone blocks (and boundary
    stage) of ``init_weights`` unless given.

    Fine-tuning the shipped weights (built without ``m_t``) must not quietly put ``m_t``
    back into the decoder, so an unset switch follows the weights being started from.
    """
    from box2mask.model.weights import network_config

    start = network_config(init_weights) if init_weights is not None else NetworkConfig()
    # a boundary stage of the weights started from is kept as it is (it refines whatever the rest gives)
    return replace(NetworkConfig(),
                   object_path=start.object_path if object_path is None else object_path,
                   encoder_features=start.encoder_features if encoder_features is None else encoder_features,
                   backbone=start.backbone if backbone is None else backbone,
                   tuned_blocks=start.tuned_blocks if tuned_blocks is None else tuned_blocks,
                   boundary=start.boundary)


def usable_pools(sources: list[DataSource], *,
                 on_problem: Callable[[Problem], None] | None = None) -> list[tuple[list[Sequence], float]]:
    """:func:`load_sources`, refusing a run that would have no sequence to train on."""
    pools = load_sources(sources, on_problem=on_problem)
    if not any(seqs for seqs, _ in pools):
        raise Box2MaskError("no usable training sequence (every source was empty or invalid)")
    return pools


def training_motion(config: TrainConfig, motion_cache: Path | None,
                    live_motion_maps: bool) -> tuple[TrainConfig, MotionSource | None]:
    """The motion maps the affinity loss reads, and the configuration actually trained.

    Without a motion source the affinity term is switched off in the returned
    configuration, so that what a checkpoint records is what was optimised (and a
    data-parallel run hands every worker the same configuration).
    """
    if config.losses.affinity <= 0:
        return config, None
    motion = cached_motion(Path(motion_cache)) if motion_cache else (live_motion() if live_motion_maps else None)
    if motion is None:
        config = replace(config, losses=replace(config.losses, affinity=0.0))
    return config, motion


def training_teacher(config: TrainConfig, teacher_runs: list[Path] | None) -> TeacherMasks | None:
    """The pseudo-masks of ``teacher_runs`` when the teacher term is on; a weight without a run is refused."""
    teacher = TeacherMasks(teacher_runs) if teacher_runs and config.losses.teacher > 0 else None
    if teacher is None and config.losses.teacher > 0:
        raise Box2MaskError("a teacher weight was given without a teacher run (--teacher RUN_DIR)")
    return teacher


def starting_network(config: TrainConfig, init_weights: Path | None) -> VideoBoxToMask | None:
    """The network to start from: ``init_weights`` (checked against ``config``), or ``None`` for a fresh one."""
    if init_weights is None:
        return None
    from box2mask.model.weights import load_weights

    loaded, _, _ = load_weights(init_weights)
    # which inputs reach the decoder and encoder changes no parameter: such weights can start either kind
    wiring = {"object_path": config.network.object_path, "encoder_features": config.network.encoder_features}
    if replace(loaded.config, **wiring) != config.network:
        raise Box2MaskError(f"{init_weights}: its network configuration differs from this training's")
    network = VideoBoxToMask(config.network, backbone=loaded.backbone)
    network.load_trainable_state_dict(loaded.trainable_state_dict())
    return network


def train(sources: list[DataSource], out: Path | str, config: TrainConfig, *, motion_cache: Path | None = None,
          teacher_runs: list[Path] | None = None, live_motion_maps: bool = True, device: str = "auto",
          resume: bool = True, init_weights: Path | None = None,
          on_log: Callable[[dict], None] | None = None, on_problem: Callable[[Problem], None] | None = None,
          on_start: Callable[[Trainer], None] | None = None) -> Trainer:
    """Run (or resume) a training job; returns the trainer at the end.

    ``init_weights`` starts from a weights file (fine-tuning, e.g. the shipped weights on
    your own boxes) instead of the ImageNet backbone alone; a resumed checkpoint wins over it.
    """
    pools = usable_pools(sources, on_problem=on_problem)
    config, motion = training_motion(config, motion_cache, live_motion_maps)
    teacher = training_teacher(config, teacher_runs)
    sampler = ClipSampler(pools, config.clip, motion=motion, teacher=teacher, seed=config.seed)
    resolved = pick_device(device)
    network = starting_network(config, init_weights)
    trainer = Trainer(config, sampler, out, device=resolved, network=network)
    if resume:
        trainer.resume()
    if on_start:
        on_start(trainer)
    trainer.run(on_log=on_log)
    return trainer


def export_weights(trainer: Trainer, path: Path | str, *, sources: list[DataSource], inference=None,
                   teacher_runs: list[Path] | None = None, extra: dict | None = None) -> Path:
    """Write shippable weights (trained part + inference defaults + how they were made)."""
    import platform

    import torch

    from box2mask import __version__
    from box2mask.model.weights import save_weights

    metadata = {
        "box2mask_version": __version__,
        "teachers": [str(p) for p in (teacher_runs or [])],
        "iterations": trainer.iteration,
        "train_config": trainer.config.to_dict(),
        "sources": [{"dataset": s.dataset, "root": str(s.root), "weight": s.weight,
                     "sequences": list(s.sequences) if s.sequences else None} for s in sources],
        "supervision": "boxes only (projection, colour pairwise, motion-aware affinity, temporal losses)",
        "device": str(trainer.device), "torch": str(torch.__version__), "machine": platform.platform(),
        **(extra or {}),
    }
    save_weights(path, trainer.net, inference or InferenceConfig(), metadata)
    return Path(path)


def weights_from_checkpoint(checkpoint: Path | str, dest: Path | str, *, inference=None,
                            extra: dict | None = None) -> Path:
    """Shippable weights from a training checkpoint (e.g. to evaluate a run while it trains)."""
    from box2mask.model.network import VideoBoxToMask
    from box2mask.model.weights import save_weights

    state = load_checkpoint(checkpoint)
    config = TrainConfig.from_dict(state["config"])
    network = VideoBoxToMask(config.network)
    network.load_trainable_state_dict(state["model"])
    metadata = {"iterations": int(state["iteration"]), "train_config": state["config"], **(extra or {})}
    save_weights(dest, network, inference or InferenceConfig(), metadata)
    return Path(dest)
