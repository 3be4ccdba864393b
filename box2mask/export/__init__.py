"""Exports of a run's masks in the formats VOS / VIS training code reads.

``export_run(run_dir, "coco" | "ytvis" | "davis", dest, options=...)`` streams
from the shards (see :mod:`box2mask.export.source`) and writes incrementally
(:mod:`box2mask.export.jsonstream`), so memory does not grow with the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from box2mask.export.coco import export_coco
from box2mask.export.common import ExportOptions, ExportStats
from box2mask.export.davis import export_davis
from box2mask.export.source import RunError, RunSource, SequenceRows
from box2mask.export.ytvis import export_ytvis

FORMATS = ("coco", "ytvis", "davis")


def export_run(run_dir: Path | str, fmt: str, dest: Path | str, *, options: ExportOptions = ExportOptions(),
               split: str | None = None, link_images: bool = False,
               on_sequence: Callable[[SequenceRows], None] | None = None,
               errors: list[str] | None = None) -> ExportStats:
    """Export the run at ``run_dir`` as ``fmt`` to ``dest`` (a JSON file, or a folder for DAVIS)."""
    source = RunSource(run_dir)
    if fmt == "coco":
        return export_coco(source, dest, options=options, on_sequence=on_sequence)
    if fmt == "ytvis":
        return export_ytvis(source, dest, options=options, on_sequence=on_sequence)
    if fmt == "davis":
        chosen = split or (source.info.split if source.info and source.info.split else "all")
        return export_davis(source, dest, options=options, split=chosen, link_images=link_images,
                            on_sequence=on_sequence, errors=errors)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "ExportOptions", "ExportStats", "RunError", "RunSource", "export_run"]
