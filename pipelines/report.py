"""Picture jobs: overlays of one sequence (MP4, contact sheet) and the HTML report of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from box2mask.export.source import RunSource
from box2mask.frames import write_image_atomic
from box2mask.visualize.render import RENDER_COLUMNS, render_sequence
from box2mask.visualize.report import write_report
from box2mask.visualize.sheet import contact_sheet, evenly
from box2mask.visualize.video import write_mp4


def show(run_dir: Path | str, seq_id: str, dest: Path | str, *, motion: bool = False, fps: float = 10.0,
         tiles: int = 24, columns: int = 6, on_frame: Callable[[int], None] | None = None,
         on_warning: Callable[[str], None] | None = None) -> list[Path]:
    """Draw ``seq_id``: ``dest`` ending in ``.mp4`` -> video, ``.png`` -> contact sheet, else a folder
    holding ``<seq>.mp4`` and ``<seq>_sheet.png``.  Returns the files written."""
    source = RunSource(run_dir)
    seq = source.sequence(seq_id, RENDER_COLUMNS)
    if seq is None:
        known = source.sequence_ids()
        raise KeyError(f"sequence {seq_id!r} is not in the run (it has {len(known)}: "
                       f"{', '.join(known[:8])}{' ...' if len(known) > 8 else ''})")
    dest = Path(dest)
    suffix = dest.suffix.lower()
    want_video = suffix != ".png"
    want_sheet = suffix != ".mp4"
    video_path = dest if suffix == ".mp4" else dest / f"{seq_id}.mp4"
    sheet_path = dest if suffix == ".png" else dest / f"{seq_id}_sheet.png"
    count = len(seq.frames())
    picks = set(evenly(count, tiles))
    sheet_tiles = []
    written = []

    def frames():
        positions = None if want_video else sorted(picks)
        for k, rendered in enumerate(render_sequence(source, seq, positions=positions, motion=motion,
                                                     on_warning=on_warning)):
            position = k if positions is None else positions[k]
            if want_sheet and position in picks:
                sheet_tiles.append(rendered.image)
            if on_frame is not None:
                on_frame(1)
            yield rendered.image

    if want_video:
        write_mp4(video_path, frames(), fps=fps)
        written.append(video_path)
    else:
        for _ in frames():
            pass
    if want_sheet:
        write_image_atomic(sheet_path, contact_sheet(sheet_tiles, columns=columns))
        written.append(sheet_path)
    return written


def report(run_dir: Path | str, dest: Path | str | None = None, *, best: int = 4, worst: int = 4, frames: int = 6,
           eval_json: Path | str | None = None, on_warning: Callable[[str], None] | None = None) -> Path:
    """Write the static HTML report (default ``OUT/report.html``)."""
    dest = Path(dest) if dest is not None else Path(run_dir) / "report.html"
    return write_report(run_dir, dest, best=best, worst=worst, frames=frames, eval_json=eval_json,
                        on_warning=on_warning)
