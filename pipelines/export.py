"""Export job: a run's shards -> COCO / YouTube-VIS JSON or a DAVIS folder (streamed)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from box2mask.export import ExportOptions, ExportStats, RunSource, export_run


def count_sequences(run_dir: Path | str) -> int:
    """How many sequences the export will visit (for a progress total)."""
    return len(RunSource(run_dir).sequence_ids())


def export(run_dir: Path | str, fmt: str, dest: Path | str, *, min_score: float | None = None,
           score_by: str = "confidence", image_root: Path | str | None = None, split: str | None = None,
           link_images: bool = False, on_sequence: Callable[[str], None] | None = None,
           errors: list[str] | None = None) -> ExportStats:
    """Export the run at ``run_dir``; ``on_sequence(id)`` is called after each sequence."""
    options = ExportOptions(min_score=min_score, score_by=score_by,
                            image_root=Path(image_root) if image_root is not None else None)
    callback = (lambda seq: on_sequence(seq.id)) if on_sequence is not None else None
    return export_run(run_dir, fmt, dest, options=options, split=split, link_images=link_images,
                      on_sequence=callback, errors=errors)
