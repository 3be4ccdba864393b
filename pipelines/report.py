"""Picture jobs: overlays of one sequence (MP4, contact sheet) and the HTML report of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from box2mask.errors import Box2MaskError
from box2mask.export.failures import one_line
from box2mask.export.source import RunSource, Skipped, describe_skipped
from box2mask.frames import write_image_atomic
from box2mask.visualize.render import RENDER_COLUMNS, render_sequence
from box2mask.visualize.report import report_destination, write_report
from box2mask.visualize.sheet import contact_sheet, evenly
from box2mask.visualize.video import write_mp4


def show(run_dir: Path | str, seq_id: str, dest: Path | str, *, motion: bool = False, fps: float = 10.0,
         tiles: int = 24, columns: int = 6, on_frame: Callable[[int], None] | None = None,
         on_warning: Callable[[str], None] | None = None,
         on_skip: Callable[[Skipped], None] | None = None) -> list[Path]:
    """Draw ``seq_id``: ``dest`` ending in ``.mp4`` -> video, ``.png`` -> contact sheet, else a folder
    holding ``<seq>.mp4`` and ``<seq>_sheet.png``.  Returns the files written.

    A frame that cannot be drawn (missing, truncated or corrupt file, undecodable row) is left
    out and passed to ``on_skip``; when no frame at all can be drawn nothing is written and
    :class:`~box2mask.errors.Box2MaskError` says why."""
    source = RunSource(run_dir)
    skipped: list[Skipped] = []

    def skip(item: Skipped) -> None:
        skipped.append(item)
        if on_skip is not None:
            on_skip(item)

    seq = source.sequence(seq_id, RENDER_COLUMNS,
                          on_unreadable=lambda path, why: skip(Skipped("shard", f"shards/{path.name}", one_line(why))))
    if seq is None:
        known = source.sequence_ids() if not skipped else []
        unread = f"; {'; '.join(describe_skipped(skipped))}" if skipped else ""
        raise KeyError(f"sequence {seq_id!r} is not in the run (it has {len(known)}: "
                       f"{', '.join(known[:8])}{' ...' if len(known) > 8 else ''}){unread}")
    dest = Path(dest)
    suffix = dest.suffix.lower()
    want_video = suffix != ".png"
    want_sheet = suffix != ".mp4"
    video_path = dest if suffix == ".mp4" else dest / f"{seq_id}.mp4"
    sheet_path = dest if suffix == ".png" else dest / f"{seq_id}_sheet.png"
    refs = seq.frames()
    count = len(refs)
    picks = set(evenly(count, tiles))
    sheet_tiles = []
    written = []

    def frames():
        positions = None if want_video else sorted(picks)
        place = {f.index: k for k, f in enumerate(refs)}
        for rendered in render_sequence(source, seq, positions=positions, motion=motion,
                                        on_warning=on_warning, on_skip=skip):
            if want_sheet and place[rendered.frame.index] in picks:
                sheet_tiles.append(rendered.image)
            if on_frame is not None:
                on_frame(1)
            yield rendered.image

    def none_drawn() -> Box2MaskError:
        return Box2MaskError(f"no frame of {seq_id!r} could be drawn, so nothing was written; "
                             + "; ".join(describe_skipped(skipped)))

    if want_video:
        try:
            write_mp4(video_path, frames(), fps=fps)
        except ValueError:
            if skipped:
                raise none_drawn() from None
            raise
        written.append(video_path)
    else:
        for _ in frames():
            pass
    if want_sheet and not sheet_tiles:
        if not written:
            raise none_drawn()
        if on_warning is not None:
            on_warning(f"{sheet_path} not written: none of the frames picked for it could be drawn")
    elif want_sheet:
        write_image_atomic(sheet_path, contact_sheet(sheet_tiles, columns=columns))
        written.append(sheet_path)
    return written


def report_path(run_dir: Path | str, dest: Path | str | None = None) -> Path:
    """Where :func:`report` writes for ``dest`` (default ``OUT/report.html``)."""
    return report_destination(dest if dest is not None else Path(run_dir) / "report.html")


def report(run_dir: Path | str, dest: Path | str | None = None, *, best: int = 4, worst: int = 4, frames: int = 6,
           eval_json: Path | str | None = None, on_warning: Callable[[str], None] | None = None,
           on_skip: Callable[[Skipped], None] | None = None) -> Path:
    """Write the static HTML report (default ``OUT/report.html``); what cannot be read is left out
    of it, listed in it and passed to ``on_skip``."""
    return write_report(run_dir, report_path(run_dir, dest), best=best, worst=worst, frames=frames,
                        eval_json=eval_json, on_warning=on_warning, on_skip=on_skip)
