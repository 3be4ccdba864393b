"""Exceptions that carry located problems, so callers can report and move on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # errors sit below every other module: no runtime import of box2mask here
    from box2mask.structures import Problem


class Box2MaskError(Exception):
    """Base class of everything box2mask raises on purpose."""


class SequenceError(Box2MaskError):
    """A sequence cannot be used; ``problems`` says where and why."""

    def __init__(self, sequence: str, problems: list[Problem]):
        self.sequence = sequence
        self.problems = list(problems)
        lines = "\n  ".join(str(p) for p in self.problems)
        super().__init__(f"sequence {sequence!r} is invalid:\n  {lines}")


class DatasetError(Box2MaskError):
    """The dataset root itself is unusable (missing folder, no sequences, ...)."""


class FrameReadError(Box2MaskError):
    """A frame file is missing or cannot be decoded."""


class TruncatedFrameError(FrameReadError):
    """A frame file ends before its image data does (cut short by an interrupted copy or download).

    Raised by :func:`box2mask.frames.read_rgb` / :func:`~box2mask.frames.read_gray` instead of
    returning the grey rows a lenient decoder invents for the missing part.  ``path`` is the frame.
    """

    def __init__(self, path: Path | str, detail: str):
        self.path = Path(path)
        super().__init__(f"frame {path}: {detail}")
