"""Scan a dataset into its manifest (the plan step of every job)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pyarrow as pa

from box2mask.datasets import open_dataset
from box2mask.errors import DatasetError
from box2mask.datasets.manifest import ScanResult, build_manifest, write_manifest
from pipelines.presets import sampling_for


def scan_dataset(dataset: str, root: Path | str, *, split: str | None = None, every: int | None = None,
                 max_frames: int | None = None, ids: list[str] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 on_sequence: Callable[[ScanResult], None] | None = None) -> pa.Table:
    """Manifest of ``dataset`` at ``root`` under its sampling preset (overridable)."""
    reader = open_dataset(dataset, root, split=split)
    sampling = sampling_for(dataset, every=every, max_frames=max_frames)
    ids = reader.sequence_ids() if ids is None else check_sequence_ids(reader, ids)
    if on_total is not None:
        on_total(len(ids))
    return build_manifest(reader, every=sampling.every, max_frames=sampling.max_frames, ids=ids,
                          on_sequence=on_sequence)


def check_sequence_ids(reader, ids: list[str]) -> list[str]:
    """``ids`` when the dataset has every one of them; else a :class:`DatasetError` naming the unknown ones."""
    known = set(reader.sequence_ids())
    unknown = [i for i in ids if i not in known]
    if unknown:
        shown = ", ".join(repr(i) for i in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise DatasetError(f"--sequences: {shown} not in the {reader.name} dataset at {reader.root} "
                           f"({len(known)} sequences; `box2mask scan` lists them)")
    return list(ids)


def save_manifest(table: pa.Table, out: Path | str) -> Path:
    path = Path(out) / "manifest.parquet"
    write_manifest(table, path)
    return path
