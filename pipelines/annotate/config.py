"""What an annotate run is asked to do, and the fingerprint that decides whether a resume is allowed.

The fingerprint holds everything that changes the *content* of the output
(dataset, root, split, sampling, sequence list, method and its options, the
weights' SHA-256, shard size, box2mask version, the ``--adapt`` settings; the method's window
follows from the method and its options).  Execution choices
(``--gpus``, ``--workers``, ``--address``) are not in it: the output is the same
whatever runs it, so a run may resume on a different cluster.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from box2mask import __version__
from box2mask.atomic import file_sha256
from box2mask.errors import Box2MaskError
from box2mask.methods import METHODS, get_method
from pipelines.annotate.adapt import AdaptConfig, check_adaptable
from pipelines.presets import sampling_for

# The method used when none is named: the trained video network (box2mask/weights/box2mask-video.pt).
DEFAULT_METHOD = "network"
# Mask rows (track x annotated frame) per shard: a few minutes of GrabCut on one
# core, seconds on a GPU; a crash loses at most the shards in flight.
DEFAULT_SHARD_FRAMES = 200


class ConfigError(Box2MaskError):
    """The run cannot start as asked (bad method option, mismatching run folder, ...)."""


@dataclass(frozen=True)
class AnnotateConfig:
    """One annotate job.  ``max_frames=None`` takes the dataset preset, ``0`` means no limit."""

    dataset: str
    root: Path
    out: Path
    split: str | None = None
    every: int | None = None
    max_frames: int | None = None
    sequences: tuple[str, ...] | None = None
    method: str = DEFAULT_METHOD
    method_options: Mapping[str, Any] = field(default_factory=dict)
    weights: Path | None = None
    shard_frames: int = DEFAULT_SHARD_FRAMES
    adapt: AdaptConfig | None = None   # --adapt: fine-tune on these boxes first (pipelines.annotate.adapt)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())
        object.__setattr__(self, "out", Path(self.out).resolve())
        if self.weights is not None:
            object.__setattr__(self, "weights", Path(self.weights).resolve())
        if self.shard_frames < 1:
            raise ConfigError(f"--shard-frames must be >= 1, got {self.shard_frames}")

    def sampling(self) -> tuple[int, int | None]:
        """``(every, max_frames)`` after the dataset preset (``None``: no limit)."""
        chosen = sampling_for(self.dataset, every=self.every, max_frames=self.max_frames)
        return chosen.every, chosen.max_frames

    def method_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``get_method(self.method, **kwargs)``: options plus ``weights``."""
        options = dict(self.method_options)
        if self.weights is not None:
            options["weights"] = str(self.weights)
        return options


def check_method(config: AnnotateConfig) -> None:
    """Fail early, on the driver, when the method or its options cannot work.

    Checks the factory's signature, then the method's own ``check()``: option names
    and values, and (for the network) that the weights file is ours, read without
    building the network.
    """
    if config.method not in METHODS:
        raise ConfigError(f"unknown method {config.method!r}; known: {', '.join(sorted(METHODS))}")
    if config.adapt is not None:
        try:
            check_adaptable(config.dataset, config.method)
        except Box2MaskError as exc:
            raise ConfigError(str(exc)) from None
    if config.weights is not None and not config.weights.is_file():
        raise ConfigError(f"weights file {config.weights} does not exist")
    try:
        inspect.signature(METHODS[config.method]).bind(**config.method_kwargs())
    except TypeError as exc:
        raise ConfigError(f"method {config.method!r} does not accept these options "
                          f"{sorted(config.method_kwargs())}: {exc}") from None
    try:
        get_method(config.method, **config.method_kwargs()).check()
    except TypeError as exc:
        raise ConfigError(f"method {config.method!r}: {exc}") from None
    except Box2MaskError as exc:
        raise ConfigError(str(exc)) from None


def weights_digest(config: AnnotateConfig) -> str | None:
    """SHA-256 of the weights the run will use: ``--weights``, else the method's own default file.

    A method with default weights (the network) names them through a
    ``weights_sha256`` attribute; building the method here must stay cheap, which
    the protocol asks of every method (models load lazily).
    """
    if config.weights is not None:
        return file_sha256(config.weights)
    method = get_method(config.method, **config.method_kwargs())
    try:
        return getattr(method, "weights_sha256", None)
    except OSError as exc:
        raise ConfigError(f"method {config.method!r}: its weights cannot be read ({exc}); "
                          "pass --weights PATH") from None


def fingerprint(config: AnnotateConfig, weights_sha256: str | None) -> dict[str, Any]:
    """The part of ``run.json`` that must match for a re-run to resume (JSON-normalised)."""
    every, max_frames = config.sampling()
    options = {k: v for k, v in config.method_kwargs().items() if k != "weights"}
    data = {
        "dataset": config.dataset, "root": str(config.root), "split": config.split,
        "sequences": list(config.sequences) if config.sequences is not None else None,
        "every": every, "max_frames": max_frames, "method": config.method, "method_options": options,
        "weights_sha256": weights_sha256, "shard_frames": config.shard_frames,
        "version": __version__,
    }
    if config.adapt is not None:  # absent otherwise, so runs made before --adapt existed still resume
        data["adapt"] = config.adapt.to_dict()
    return json.loads(json.dumps(data, sort_keys=True, default=str))


def config_differences(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """Human-readable ``key: stored -> wanted`` lines for every key that differs."""
    keys = sorted(set(stored) | set(wanted))
    return [f"{k}: {json.dumps(stored.get(k))} (in run.json) -> {json.dumps(wanted.get(k))} (now)"
            for k in keys if stored.get(k) != wanted.get(k)]
