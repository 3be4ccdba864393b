"""Readers for box-annotated video datasets, all yielding :class:`~box2mask.structures.Sequence`.

``open_dataset("got10k", root)`` picks a reader by name; the names are in
:data:`READERS`.  Readers load one sequence at a time (``load(id)``), so a
dataset of 10,000 videos is never held in memory.
"""

from __future__ import annotations

from pathlib import Path

from box2mask.datasets.davis import DavisReader
from box2mask.datasets.folder import FolderReader
from box2mask.datasets.got10k import Got10kReader
from box2mask.datasets.lasot import LasotReader
from box2mask.errors import DatasetError

READERS = {
    "got10k": Got10kReader,
    "lasot": LasotReader,
    "davis": DavisReader,
    "folder": FolderReader,
}


def open_dataset(name: str, root: Path | str, *, split: str | None = None):
    """The reader for dataset ``name`` at ``root``; unknown names list the known ones."""
    try:
        cls = READERS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(READERS))}") from None
    return cls(root, split=split)


__all__ = ["READERS", "open_dataset", "DavisReader", "FolderReader", "Got10kReader", "LasotReader"]
