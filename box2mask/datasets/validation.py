"""Parsing and validation shared by the readers.

Every problem is located (sequence, file, 1-based line) so a user can open the
file and fix it.  Errors make a sequence invalid; warnings describe a repair
(clipping, a default) and keep the sequence.  Repeated warnings of one kind in
one file are folded into a single problem that names the first line and the
count, so a 3,000-frame video with a slightly-off box does not bury the report.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from box2mask.errors import SequenceError
from box2mask.frames import IMAGE_SUFFIXES, inspect_image, open_regular, regular_file_problem
from box2mask.structures import Problem

_SPLIT = re.compile(r"[,\t ]+")


@dataclass
class ProblemLog:
    """Collects the problems of one sequence while it is being read."""

    sequence: str
    problems: list[Problem] = field(default_factory=list)
    _folded: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, problem: Problem) -> None:
        """Record a problem found elsewhere (e.g. while reading a listing), as it is."""
        self.problems.append(problem)

    def error(self, message: str, file: Path | str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(self.sequence, message, _name(file), line, "error"))

    def warn(self, message: str, file: Path | str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(self.sequence, message, _name(file), line, "warning"))

    def warn_folded(self, message: str, file: Path | str, line: int) -> None:
        """A warning that may repeat on many lines of one file: reported once with a count."""
        self._folded[(_name(file), message)].append(line)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def warnings(self) -> tuple[Problem, ...]:
        self._flush()
        return tuple(p for p in self.problems if p.severity == "warning")

    def raise_if_errors(self) -> None:
        if self.errors:
            self._flush()
            raise SequenceError(self.sequence, self.problems)

    def _flush(self) -> None:
        for (file, message), lines in self._folded.items():
            more = f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else ""
            self.problems.append(Problem(self.sequence, message + more, file, lines[0], "warning"))
        self._folded.clear()


def _name(file: Path | str | None) -> str | None:
    return None if file is None else str(file)


def list_frames(folder: Path, log: ProblemLog, *, numbered: bool = True) -> list[Path]:
    """The image files of ``folder`` in frame order, with problems reported (see :func:`scan_frames`)."""
    return scan_frames(folder, log, numbered=numbered)[0]


def scan_frames(folder: Path, log: ProblemLog, *, numbered: bool = True) -> tuple[list[Path], tuple[int, int] | None]:
    """The image files of ``folder`` in frame order and their common ``(height, width)``.

    ``numbered`` datasets (GOT-10k, LaSOT: ``00000001.jpg`` ...) must have no gaps.  Every
    frame is inspected from its header and last bytes (:func:`~box2mask.frames.inspect_image`,
    no pixel decode), which stays cheap for long videos: missing, non-regular (FIFO, device),
    empty, unknown, cut-short frames and a frame whose size differs from the first one's are
    errors naming the frame.  The size is ``None`` when no frame gives one.
    """
    if not folder.is_dir():
        log.error("frame folder is missing", folder)
        return [], None
    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not frames:
        log.error("frame folder holds no images (.jpg/.jpeg/.png/.bmp/.webp)", folder)
        return [], None
    if numbered:
        frames = _check_numbering(frames, log)
    first: tuple[Path, tuple[int, int]] | None = None
    other: list[tuple[Path, tuple[int, int]]] = []
    for path in frames:
        info = inspect_image(path)
        if info.problem is not None:
            log.error(f"frame is {info.problem}", path)
        elif first is None:
            first = (path, info.size)
        elif info.size != first[1]:
            other.append((path, info.size))
    if other:
        (path, (h, w)), (name, (h0, w0)) = other[0], (first[0].name, first[1])
        more = f" ({len(other) - 1} more frames differ)" if len(other) > 1 else ""
        log.error(f"frame is {w}x{h} but the first frame {name} is {w0}x{h0}{more}; all frames of a "
                  "sequence must have one size (resize the frames or split the sequence)", path)
    return frames, None if first is None else first[1]


def _check_numbering(frames: list[Path], log: ProblemLog) -> list[Path]:
    numbers = []
    for p in frames:
        if not p.stem.isdigit():
            log.error("frame name is not a number (expected e.g. 00000001.jpg)", p)
            return frames
        numbers.append(int(p.stem))
    order = np.argsort(numbers, kind="stable")
    frames = [frames[i] for i in order]
    numbers = sorted(numbers)
    # A gap means at least one frame is missing between the first and the last number.
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        width = len(frames[0].stem)
        shown = ", ".join(f"{m:0{width}d}{frames[0].suffix}" for m in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        log.error(f"missing frame(s) {shown}{more} (frames run {numbers[0]}..{numbers[-1]})",
                  frames[0].parent)
    return frames


def frames_and_boxes(frame_dir: Path, gt_path: Path, log: ProblemLog) -> tuple[list[Path], tuple[int, int], np.ndarray]:
    """Frames in order, their common ``(height, width)`` (from the headers) and the ``x,y,w,h`` boxes.

    The common start of the GOT-10k and LaSOT readers; raises :class:`SequenceError`
    as soon as something it needs is wrong.
    """
    frames, size = scan_frames(frame_dir, log)
    log.raise_if_errors()
    assert size is not None
    xywh = parse_boxes_xywh(gt_path, log)
    log.raise_if_errors()
    assert xywh is not None
    return frames, size, xywh


def present(path: Path) -> bool:
    """Whether anything sits at ``path``, even a dangling link or a FIFO (``exists()`` says no to the first)."""
    return path.exists() or path.is_symlink()


def read_text(path: Path, log: ProblemLog, *, required: bool) -> str | None:
    """A UTF-8 text file (BOM dropped); ``None`` with a problem if it cannot be read.

    A missing file is an error only when ``required``; one that is not a regular file (a FIFO,
    a device, a folder) is always an error and is never opened, so it cannot block the reader.
    """
    reason = regular_file_problem(path)
    if reason == "missing":
        if required:
            log.error("file is missing", path)
        return None
    if reason is not None:
        fix = "; replace it with a regular text file" if reason.startswith("not a regular") else ""
        log.error(f"file is {reason}{fix}", path)
        return None
    try:
        with open_regular(path) as fh:
            data = fh.read()
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.error("file is not UTF-8 text; save it as UTF-8", path)
        return None
    except OSError as exc:
        log.error(f"file cannot be read ({exc.strerror})", path)
        return None


def read_lines(path: Path, log: ProblemLog, *, required: bool) -> list[str] | None:
    """Lines of a text file (see :func:`read_text`), CRLF or LF, trailing blank lines dropped."""
    text = read_text(path, log, required=required)
    if text is None:
        return None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def parse_boxes_xywh(path: Path, log: ProblemLog) -> np.ndarray | None:
    """Parse an ``x,y,w,h`` per line groundtruth file into ``(N, 4) float64``.

    Non-numeric, NaN/inf, wrong field counts and negative sizes are errors with
    their line number.  Zero sizes are returned as-is (the caller decides from
    the visibility flags whether they matter).
    """
    lines = read_lines(path, log, required=True)
    if lines is None:
        return None
    if not lines:
        log.error("file is empty (expected one x,y,w,h line per frame)", path)
        return None
    out = np.full((len(lines), 4), np.nan)
    ok = True
    for i, raw in enumerate(lines, start=1):
        fields = [f for f in _SPLIT.split(raw.strip()) if f]
        if len(fields) != 4:
            log.error(f"expected 4 values x,y,w,h, found {len(fields)}: {raw.strip()[:60]!r}", path, i)
            ok = False
            continue
        try:
            values = [float(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_float(f))
            log.error(f"value {bad!r} is not a number", path, i)
            ok = False
            continue
        if any(math.isnan(v) or math.isinf(v) for v in values):
            log.error(f"value is NaN or infinite: {raw.strip()[:60]!r}", path, i)
            ok = False
            continue
        if values[2] < 0 or values[3] < 0:
            log.error(f"negative box size w={values[2]:g} h={values[3]:g}", path, i)
            ok = False
            continue
        out[i - 1] = values
    return out if ok else None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_flags(path: Path, log: ProblemLog, *, n: int, allowed: range, default: int,
                one_row: bool) -> np.ndarray:
    """Per-frame integer flags, one per line or (``one_row``) comma-separated on one line.

    A missing file gives ``default`` for every frame with a warning; a length
    mismatch or a value outside ``allowed`` is an error.
    """
    lines = read_lines(path, log, required=False)
    if lines is None:
        if not path.exists():
            log.warn(f"file is missing; assuming {default} for all {n} frames", path)
        return np.full(n, default, dtype=np.int64)
    if one_row:
        tokens = [(1, t) for line in lines for t in _SPLIT.split(line.strip()) if t]
    else:
        tokens = [(i, line.strip()) for i, line in enumerate(lines, start=1)]
    values = np.full(n, default, dtype=np.int64)
    if len(tokens) != n:
        log.error(f"has {len(tokens)} values for {n} frames", path)
        return values
    for k, (line, token) in enumerate(tokens):
        try:
            v = int(float(token))
            if v != float(token):
                raise ValueError
        except ValueError:
            log.error(f"flag {token!r} (frame {k + 1}) is not an integer", path, line)
            continue
        if v not in allowed:
            log.error(f"flag {v} (frame {k + 1}) is outside {allowed.start}..{allowed.stop - 1}",
                      path, line)
            continue
        values[k] = v
    return values


def finalize_boxes(xywh: np.ndarray, present: np.ndarray, *, height: int, width: int,
                   log: ProblemLog, file: Path, first_line: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Convert to ``x0,y0,x1,y1``, clip to the image and derive visibility.

    * zero-size boxes on frames flagged present: invisible, with a warning;
    * boxes partly outside the image: clipped, with a warning;
    * boxes wholly outside the image: invisible, with a warning.

    Frames flagged absent keep no box (NaN), whatever the file says.
    """
    from box2mask.boxes import clip_boxes, xywh_to_xyxy

    xyxy = xywh_to_xyxy(xywh)
    visible = present.copy()
    finite = ~np.isnan(xyxy).any(axis=1)
    visible &= finite
    for k in np.flatnonzero(visible):
        x0, y0, x1, y1 = xyxy[k]
        line = first_line + int(k)
        if x1 - x0 <= 0 or y1 - y0 <= 0:
            log.warn_folded("zero-size box on a frame flagged visible; treated as invisible",
                            file, line)
            visible[k] = False
        elif x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            log.warn_folded(f"box lies wholly outside the {width}x{height} image; "
                            "treated as invisible", file, line)
            visible[k] = False
        elif x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            log.warn_folded(f"box extends outside the {width}x{height} image; clipped", file, line)
    clipped = clip_boxes(xyxy, height, width)
    clipped[~visible] = np.nan
    return clipped, visible
