"""DAVIS / YouTube-VOS-style label folders.

::

    DEST/Annotations/<sequence>/<source frame stem>.png   8-bit palette PNG, DAVIS palette,
                                                          0 = background, objects 1..N
    DEST/ImageSets/<split>.txt                            the sequences, one per line
    DEST/meta.json                                        per sequence: object id -> track id,
                                                          category and the frames it has a mask in
    DEST/JPEGImages/<sequence>/<stem>.<ext>               optional symbolic links to the frames

Tracks of a sequence get object ids 1..N in track-id order; where two masks
overlap, the higher object id wins.  Every annotated frame gets a PNG (all
zeros where no track has a mask), so a folder never mixes two exports.  Each
file is written atomically, ``meta.json`` is read back and checked against the
shards before it is renamed into place, and ``ImageSets/<split>.txt`` comes last,
so its presence says the export finished.

Sequence ids and frame stems come from the shards and become file names, so
nothing is written before they are checked: each must be one plain path
component (no ``/`` or ``\\``, not ``.`` or ``..``, no control characters), and
every path must resolve inside ``DEST`` (a folder in ``DEST`` that is a link
leading elsewhere is refused).  Links to frames are made only inside ``DEST``,
under a temporary name then renamed over the old link; an existing file that is
not a link is never replaced, a link to itself or to a file inside ``DEST`` is
refused, and the frames themselves are only ever named, never opened.  A
sequence that fails a check is reported with its name and why, and skipped
before any of its files is written; the others are exported.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from box2mask.atomic import atomic_path, atomic_write_text
from box2mask.errors import Box2MaskError
from box2mask.export.common import ROW_COLUMNS, ExportOptions, ExportStats, keep_mask, tally_for
from box2mask.export.failures import OutputError
from box2mask.export.jsonstream import JsonStream
from box2mask.export.source import RunSource, SequenceRows, row_mask
from box2mask.export.validate import check_davis_meta
from box2mask.masks.png import VOID_LABEL, write_label_png

MAX_OBJECTS = VOID_LABEL - 1
MAX_NAME_BYTES = 255


class UnsafePath(Box2MaskError):
    """A name or path from the shards cannot be used inside the export folder."""


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be one file or folder name inside the export, or ``None`` when it can."""
    if not isinstance(name, str) or not name:
        return "is empty"
    if "/" in name or "\\" in name or (os.altsep and os.altsep in name):
        return "holds a path separator"
    if name in (".", ".."):
        return f"is {name!r}"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "holds a control character"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    return None


def _real(path: Path) -> Path:
    """``path`` with its folders resolved (through any links); the last name is kept as it is."""
    return Path(os.path.realpath(path.parent)) / path.name


def _inside(root: Path, path: Path) -> bool:
    """Whether ``path`` (its folders resolved) lies inside ``root`` (resolved)."""
    real = _real(path)
    return real != root and os.path.commonpath([root, real]) == str(root)


def _check_output(root: Path, path: Path, *, link: bool = False) -> None:
    """``path`` resolves inside ``root``; a link's place holds nothing or a link, a file's no folder."""
    if not _inside(root, path):
        raise UnsafePath(f"{path} would resolve to {_real(path)}, outside --dest {root}")
    if os.path.lexists(path):
        if link and not os.path.islink(path):
            raise UnsafePath(f"{path} exists and is not a link; it is left as it is")
        if not link and os.path.isdir(path) and not os.path.islink(path):
            raise UnsafePath(f"{path} is a folder")


def _check_folder(root: Path, folder: Path) -> None:
    """``folder`` (existing or not) resolves inside ``root`` and is not a file."""
    if not _inside(root, folder / "x"):
        raise UnsafePath(f"{folder} resolves to {os.path.realpath(folder)}, outside --dest {root}")
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise UnsafePath(f"{folder} exists and is not a folder")


def _check_link_target(root: Path, target: Path, link: Path) -> None:
    """A link ``link`` -> ``target`` is safe: the frame is a file, not the link, not inside ``root``."""
    if not os.path.isfile(target):
        raise UnsafePath(f"frame {target} is not a file, so there is nothing to link to")
    real_target = Path(os.path.realpath(target))
    if real_target == _real(link) or Path(os.path.abspath(target)) == _real(link):
        raise UnsafePath(f"the link {link} would point at itself")
    if real_target == root or os.path.commonpath([root, real_target]) == str(root):
        raise UnsafePath(f"frame {target} lies inside --dest {root}; a link to it could loop "
                         "(choose a --dest outside the dataset)")


def export_davis(source: RunSource, dest: Path | str, *, options: ExportOptions = ExportOptions(),
                 split: str = "all", link_images: bool = False,
                 on_sequence: Callable[[SequenceRows], None] | None = None,
                 errors: list[str] | None = None) -> ExportStats:
    """Write the folder ``dest``; a sequence that cannot be written is named in ``errors`` (and in
    ``stats.skipped``) and skipped.  Without ``errors`` such a sequence raises instead."""
    dest = Path(dest)
    if os.path.lexists(dest) and not dest.is_dir():
        raise OutputError(f"--dest {dest} is a file; the davis export is a folder",
                          "give a folder name (it is created if missing)")
    problem = name_problem(split)
    if problem:
        raise OutputError(f"--split {split!r} {problem}, so it cannot name ImageSets/<split>.txt",
                          "give a plain name such as train, val or all")
    dest.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(dest))
    try:
        _check_folder(root, dest / "ImageSets")
        _check_output(root, dest / "ImageSets" / f"{split}.txt")
        _check_output(root, dest / "meta.json")
    except UnsafePath as exc:
        raise OutputError(f"{exc}; nothing was exported", "remove it, or choose another --dest") from None
    stats = ExportStats()
    tally = tally_for(options)
    written: list[str] = []

    def skip(message: str) -> None:
        stats.skipped.append(message)
        if errors is None:
            raise UnsafePath(message)
        errors.append(message)

    with atomic_path(dest / "meta.json") as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            js = JsonStream(fh)
            js.open_object()
            js.open_object("videos")
            for seq in source.sequences(ROW_COLUMNS, duplicates=stats.duplicates):
                stats.note(seq)
                problem = name_problem(seq.id)
                if problem:
                    skip(f"sequence {seq.id!r}: its id {problem}, so it cannot name a folder; sequence skipped")
                    continue
                tracks = seq.track_ids()
                if len(tracks) > MAX_OBJECTS:
                    skip(f"{seq.id}: {len(tracks)} tracks do not fit one 8-bit label map "
                         f"(at most {MAX_OBJECTS}); sequence skipped")
                    continue
                try:
                    plan = _plan(source, seq, dest, root, link_images)
                except UnsafePath as exc:
                    skip(f"sequence {seq.id!r}: {exc}; sequence skipped (nothing of it was written)")
                    continue
                objects = _write_sequence(seq, plan, tracks, options, stats)
                tally.add(seq)
                js.value({"objects": objects}, seq.id)
                written.append(seq.id)
                stats.sequences += 1
                if on_sequence is not None:
                    on_sequence(seq)
            js.close("object")
            js.close("object")
            fh.write("\n")
        check_davis_meta(tmp, dest / "meta.json", tally)
    atomic_write_text(dest / "ImageSets" / f"{split}.txt", "".join(f"{s}\n" for s in written))
    return stats


@dataclass(frozen=True)
class FramePlan:
    """Where one frame's files go: its label PNG and, with --link-images, the link and its target."""

    png: Path
    link: Path | None
    target: Path | None


def _plan(source: RunSource, seq: SequenceRows, dest: Path, root: Path, link_images: bool) -> dict[int, FramePlan]:
    """Every output path of ``seq``, checked before anything is written (raises :class:`UnsafePath`)."""
    labels = dest / "Annotations" / seq.id
    images = dest / "JPEGImages" / seq.id
    for folder in (dest / "Annotations", labels) + ((dest / "JPEGImages", images) if link_images else ()):
        _check_folder(root, folder)
    plan: dict[int, FramePlan] = {}
    names: set[str] = set()
    for ref in seq.frames():
        problem = name_problem(ref.stem)
        if problem:
            raise UnsafePath(f"frame {ref.index} has the stem {ref.stem!r}, which {problem}")
        if ref.stem in names:
            raise UnsafePath(f"two frames share the stem {ref.stem!r}")
        names.add(ref.stem)
        png = labels / f"{ref.stem}.png"
        _check_output(root, png)
        link = target = None
        if link_images:
            target = Path(os.path.abspath(source.frame_file(ref.path)))
            link = images / f"{ref.stem}{target.suffix}"
            _check_output(root, link, link=True)
            _check_link_target(root, target, link)
        plan[ref.index] = FramePlan(png, link, target)
    return plan


def _write_sequence(seq: SequenceRows, plan: dict[int, FramePlan], tracks: list[int],
                    options: ExportOptions, stats: ExportStats) -> dict:
    object_id = {t: k for k, t in enumerate(tracks, start=1)}
    objects: dict[str, dict] = {str(object_id[t]): {"track_id": t, "category": None, "frames": []} for t in tracks}
    labels = None
    current: int | None = None

    def flush() -> None:
        if current is not None:
            where = plan[current]
            write_label_png(where.png, labels)
            stats.frames += 1
            if where.link is not None:
                _link(where.target, where.link)

    for row in seq.rows():
        frame = int(row["frame_index"])
        if current is None or frame != current:
            flush()
            current = frame
            labels = np.zeros((seq.height, seq.width), dtype=np.uint8)
        obj = objects[str(object_id[int(row["track_id"])])]
        obj["category"] = obj["category"] or row["category"]
        if keep_mask(row, options, stats):
            labels[row_mask(row)] = object_id[int(row["track_id"])]
            obj["frames"].append(row["frame_stem"])
    flush()
    return objects


def _link(target: Path, link: Path) -> None:
    """Symbolic link ``link`` -> ``target``: made under a temporary name in the link's folder, then
    renamed over ``link`` (which :func:`_plan` checked is absent or a link)."""
    folder = link.parent
    folder.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(link) and not os.path.islink(link):
        raise UnsafePath(f"{link} exists and is not a link; it is left as it is")
    while True:
        tmp = folder / f".{link.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.symlink(target, tmp)
            break
        except FileExistsError:
            continue
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
