"""Sequence entries: the names a listing gives (``list.txt``, a split list, the folders of a root).

A sequence id ends up as a path component downstream (output folders, PNG names, links), so an
entry must be a plain name (:func:`check_entry_name`) whose folder stays inside the folder it is
listed in: no separators, no ``..``, not absolute, no control characters, and no symbolic link
leading out.  (Links *inside* a sequence, such as frames linking to files elsewhere, are fine.)
A bad entry is an error of that sequence alone, located at the listing's file and line, so the
other sequences go ahead.  An entry listed twice is read once, with a warning at the repeat.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Iterable, Mapping

from box2mask.datasets.validation import ProblemLog, read_lines
from box2mask.errors import DatasetError
from box2mask.structures import Problem


def check_entry_name(name: str) -> str | None:
    """Why ``name`` cannot be a sequence id (it must be one plain path component), or ``None``."""
    if not name:
        return "is empty"
    if any(unicodedata.category(c) == "Cs" for c in name):
        return "is not valid UTF-8 (the folder name holds undecodable bytes)"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "contains a control character"
    if os.path.isabs(name) or PureWindowsPath(name).drive:
        return "is an absolute path"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if name in (".", ".."):
        return f"is {name!r}, which names a folder, not a sequence"
    return None


def shown_id(name: str) -> str:
    """``name`` with control characters and undecodable bytes escaped (``\\x00``), printable on one line."""
    out = []
    for c in name:
        category = unicodedata.category(c)
        if category == "Cs":   # a byte os.fsdecode could not decode, kept as a lone surrogate
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif category == "Cc":
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return "".join(out)


@dataclass(frozen=True)
class Entry:
    """One sequence named by a listing: ``name`` as listed, ``id`` as reported (see :func:`shown_id`)."""

    id: str
    name: str
    file: Path | None = None   # the listing file; None when found by listing a folder
    line: int | None = None


@dataclass(frozen=True)
class Listing:
    """The sequences a dataset names, each once, in listing order, with the warnings about repeats."""

    entries: tuple[Entry, ...]
    problems: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)
    _by_id: Mapping[str, Entry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {e.id: e for e in self.entries})

    def ids(self) -> list[str]:
        return [e.id for e in self.entries]

    def entry(self, seq_id: str) -> Entry | None:
        return self._by_id.get(seq_id)


def make_listing(entries: Iterable[Entry]) -> Listing:
    """Keep the first of repeated names; each repeat is a warning at its file and line."""
    kept: dict[str, Entry] = {}
    repeats: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.id in kept:
            repeats.setdefault(entry.id, []).append(entry)
        else:
            kept[entry.id] = entry
    problems = {}
    for seq_id, again in repeats.items():
        first = kept[seq_id]
        where = f"line {first.line}" if first.file == again[0].file else f"{first.file}:{first.line}"
        more = f", and again on {len(again) - 1} more line(s)" if len(again) > 1 else ""
        problems[seq_id] = (Problem(seq_id, f"is listed again (first at {where}{more}); read once",
                                    str(again[0].file), again[0].line, "warning"),)
    return Listing(tuple(kept.values()), problems)


def listing_from_file(path: Path) -> Listing:
    """The entries of a listing file (one name per line; blank lines skipped, BOM and CRLF fine).

    Raises :class:`~box2mask.errors.DatasetError` when the file cannot be read as text at all
    (not a regular file, not UTF-8): no sequence of it can be named then.
    """
    log = ProblemLog("-")
    lines = read_lines(path, log, required=True)
    if lines is None:
        raise DatasetError(f"{path}: {log.errors[0].message}; a listing must be a UTF-8 text file "
                           "with one sequence name per line")
    return make_listing(Entry(shown_id(raw.strip()), raw.strip(), path, i)
                        for i, raw in enumerate(lines, start=1) if raw.strip())


def listing_from_folders(names: Iterable[str]) -> Listing:
    """The entries found by listing a folder (already unique), in the order given."""
    return Listing(tuple(Entry(shown_id(n), n) for n in names))


def entry_name(listing: Listing | None, seq_id: str, log: ProblemLog, *, where: Path) -> str:
    """The listed name of ``seq_id``, once it is known to be a plain name; else a located error.

    Adds the listing's warnings about ``seq_id`` to ``log``.  ``where`` locates problems of an
    entry that no listing file names (a folder found on disk, or an id passed in directly).
    Raises :class:`~box2mask.errors.SequenceError` for a name that is not plain.
    """
    entry = listing.entry(seq_id) if listing is not None else None
    for problem in (listing.problems.get(seq_id, ()) if listing is not None else ()):
        log.add(problem)
    name = entry.name if entry is not None else seq_id
    reason = check_entry_name(name)
    if reason is not None:
        file, line = _located(entry, where)
        log.error(f"sequence name {shown_id(name)!r} {reason}; a sequence must be a folder name directly "
                  "inside the dataset root (fix or remove the entry)", file, line)
        log.raise_if_errors()
    return name


def check_inside(listing: Listing | None, seq_id: str, folder: Path, root: Path, log: ProblemLog) -> None:
    """A located error (raised) when ``folder`` resolves outside ``root``, e.g. through a symbolic link."""
    entry = listing.entry(seq_id) if listing is not None else None
    try:
        resolved, top = folder.resolve(), root.resolve()
    except (OSError, RuntimeError) as exc:   # a symlink loop
        log.error(f"sequence folder {folder} cannot be resolved ({exc})", *_located(entry, folder))
        log.raise_if_errors()
        return
    if resolved != top and top in resolved.parents:
        return
    log.error(f"sequence folder {folder} resolves to {resolved}, outside the dataset root {top}; "
              "move or copy the sequence into the root instead of linking it", *_located(entry, folder))
    log.raise_if_errors()


def sequence_folder(listing: Listing | None, seq_id: str, root: Path, log: ProblemLog) -> Path:
    """``root / <listed name>``, checked: a plain name (:func:`entry_name`) whose folder stays inside
    ``root`` (:func:`check_inside`); a located :class:`~box2mask.errors.SequenceError` otherwise."""
    folder = root / entry_name(listing, seq_id, log, where=root)
    check_inside(listing, seq_id, folder, root, log)
    return folder


def _located(entry: Entry | None, where: Path) -> tuple[Path, int | None]:
    if entry is not None and entry.file is not None:
        return entry.file, entry.line
    return where, None
