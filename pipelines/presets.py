"""Dataset presets from ``presets.toml`` (frame sampling), with command-line overrides."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

PRESETS_FILE = Path(__file__).with_name("presets.toml")


@dataclass(frozen=True)
class Sampling:
    every: int = 1
    max_frames: int | None = None


def sampling_for(dataset: str, *, every: int | None = None, max_frames: int | None = None) -> Sampling:
    """The dataset's preset with any explicit ``every`` / ``max_frames`` taking precedence.

    ``max_frames=0`` means "no limit".
    """
    presets = tomllib.loads(PRESETS_FILE.read_text())
    base = presets.get(dataset, {})
    chosen_every = every if every is not None else int(base.get("every", 1))
    chosen_max = max_frames if max_frames is not None else base.get("max_frames")
    return Sampling(every=chosen_every, max_frames=int(chosen_max) if chosen_max else None)
