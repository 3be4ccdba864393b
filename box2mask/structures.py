"""The typed structures everything else passes around.

Conventions, stated once:

* Boxes are ``float64`` arrays of ``(x0, y0, x1, y1)`` in *continuous* pixel
  coordinates: pixel ``(row r, col c)`` covers ``[c, c+1) x [r, r+1)``.  A mask's
  tight box is therefore ``(min_col, min_row, max_col + 1, max_row + 1)``.
  Frames without a box hold ``NaN`` in all four slots.
* Images are ``uint8`` arrays ``(H, W, 3)`` in **RGB** order.
* Masks are ``bool`` arrays ``(H, W)``.
* Frame indices are 0-based positions in :attr:`Sequence.frames`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal, Mapping

import numpy as np

from box2mask.frames import read_rgb

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can.

    ``line`` is 1-based, as an editor shows it.  Errors make a sequence invalid;
    warnings are repaired (with the repair stated in ``message``) and kept.
    """

    sequence: str
    message: str
    file: str | None = None
    line: int | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file or ""
        if self.file and self.line is not None:
            where += f":{self.line}"
        prefix = f"{self.sequence}: {where}: " if where else f"{self.sequence}: "
        return f"{prefix}{self.message}"


@dataclass(frozen=True)
class Track:
    """One object followed through a sequence.

    ``boxes`` is ``(N, 4) float64`` (NaN where there is no box) and ``visible``
    ``(N,) bool``; ``N`` equals the number of frames of the sequence.  A frame is
    visible when the dataset says the object is present and in view *and* a
    usable box exists.
    """

    track_id: int
    boxes: np.ndarray
    visible: np.ndarray
    category: str = "object"
    flags: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float64)
        visible = np.asarray(self.visible, dtype=bool)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"track {self.track_id}: boxes must be (N, 4), got {boxes.shape}")
        if visible.shape != (boxes.shape[0],):
            raise ValueError(
                f"track {self.track_id}: visible must be ({boxes.shape[0]},), got {visible.shape}"
            )
        boxes.setflags(write=False)
        visible.setflags(write=False)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "visible", visible)

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


@dataclass(frozen=True)
class Sequence:
    """A video with its tracks; frames are paths, decoded only when asked.

    ``image_size`` is ``(height, width)``.  ``sampled`` holds the frame indices the
    pipeline annotates (after the dataset's sampling preset); all frames remain
    available as support frames for the video model.  ``meta`` carries dataset
    fields such as ``class``, ``split`` and ``sentence``.
    """

    id: str
    dataset: str
    frames: tuple[Path, ...]
    tracks: tuple[Track, ...]
    image_size: tuple[int, int]
    meta: Mapping[str, str] = field(default_factory=dict)
    sampled: np.ndarray | None = None
    warnings: tuple[Problem, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.frames)
        for track in self.tracks:
            if len(track) != n:
                raise ValueError(
                    f"{self.id}: track {track.track_id} has {len(track)} boxes for {n} frames"
                )
        sampled = np.arange(n) if self.sampled is None else np.asarray(self.sampled, dtype=np.int64)
        if sampled.size and (sampled.min() < 0 or sampled.max() >= n):
            raise ValueError(f"{self.id}: sampled frame index out of range 0..{n - 1}")
        sampled.setflags(write=False)
        object.__setattr__(self, "sampled", sampled)
        object.__setattr__(self, "frames", tuple(Path(p) for p in self.frames))

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def height(self) -> int:
        return self.image_size[0]

    @property
    def width(self) -> int:
        return self.image_size[1]

    def frame_stem(self, index: int) -> str:
        """The file stem of frame ``index`` (e.g. ``00000042``), used for output names."""
        return self.frames[index].stem

    def read_frame(self, index: int) -> np.ndarray:
        """Decode frame ``index`` as ``(H, W, 3) uint8`` RGB."""
        return read_rgb(self.frames[index])

    def iter_frames(self, indices: np.ndarray | list[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, image)`` lazily, one decoded frame in memory at a time."""
        for i in range(len(self)) if indices is None else indices:
            yield int(i), self.read_frame(int(i))

    def with_sampling(self, sampled: np.ndarray) -> "Sequence":
        """A copy annotating ``sampled`` frames instead."""
        from dataclasses import replace

        return replace(self, sampled=np.asarray(sampled, dtype=np.int64))
