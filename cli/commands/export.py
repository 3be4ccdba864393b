"""``box2mask export``: a run's masks as COCO, YouTube-VIS or DAVIS PNGs."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from box2mask.errors import Box2MaskError
from box2mask.export.failures import RUN_HINT, explain
from cli.progress import console, fail, track


def fail_explained(exc: BaseException, *, target=None, default_hint: str = RUN_HINT) -> None:
    """Exit with status 2 on ``exc``: one line naming the file and the real cause (a full disk, a
    read-only or forbidden destination, a destination that is a folder, not a run folder), one
    line of hint, no traceback.  Shared by export, report, show and qa."""
    why = explain(exc, target=target, default_hint=default_hint)
    fail(escape(why.message), escape(why.hint))


@click.command("export")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", required=True, type=click.Choice(["coco", "ytvis", "davis"]),
              help="coco: one JSON, one image per annotated frame; ytvis: YouTube-VIS JSON, one annotation "
                   "per track; davis: Annotations/<seq>/<frame>.png palette label maps.")
@click.option("--dest", required=True, type=click.Path(),
              help="Output JSON file (coco, ytvis) or folder (davis).")
@click.option("--min-score", type=click.FloatRange(0, 1), default=None,
              help="Leave out masks scoring below this (masks without a score are left out too).")
@click.option("--score", "score_by", type=click.Choice(["confidence", "qa"]), default="confidence",
              show_default=True, help="Which score --min-score reads: the method's confidence or the combined QA score.")
@click.option("--image-root", type=click.Path(file_okay=False), default=None,
              help="Write frame paths relative to this folder (default: the dataset root in run.json).")
@click.option("--split", default=None, help="DAVIS: the ImageSets/<split>.txt name (default: the run's split or 'all').")
@click.option("--link-images/--no-link-images", default=False,
              help="DAVIS: add JPEGImages/<seq>/ with symbolic links to the frames.")
def command(out, fmt, dest, min_score, score_by, image_root, split, link_images):
    """Export the masks of run OUT, streamed from its shards (memory does not grow with the run).

    A JSON export is read back and checked against the shards before it appears at
    --dest.  A sequence that cannot be exported (DAVIS: an id or frame name that is not a
    plain file name, a path leading outside --dest) is named and skipped, the others are
    exported, and the exit status is 1.

    \b
    Examples:
      box2mask export run/ --format coco --dest run/coco.json --min-score 0.5 --score qa
      box2mask export run/ --format ytvis --dest run/ytvis.json --image-root /data/LaSOT
      box2mask export run/ --format davis --dest run/davis --link-images
    """
    from pipelines.export import count_sequences, export

    start = time.perf_counter()
    errors: list[str] = []
    try:
        total = count_sequences(out)
        with track(f"export {fmt}", total) as progress:
            stats = export(out, fmt, dest, min_score=min_score, score_by=score_by, image_root=image_root,
                           split=split, link_images=link_images, errors=errors,
                           on_sequence=lambda seq: progress.advance(1, extra=seq))
    except (Box2MaskError, OSError, ValueError) as exc:
        fail_explained(exc, target=dest)
    for message in errors:
        console.print(f"[red]skipped[/] {escape(message)}", soft_wrap=True)
    for seq in stats.duplicates:
        console.print(f"[yellow]warning[/] {escape(seq)} appears in more than one shard; the first copy was exported",
                      soft_wrap=True)
    for seq, n in stats.repeated_rows.items():
        console.print(f"[yellow]warning[/] {escape(seq)}: {n} row(s) repeat a track and frame already read; "
                      "each (track, frame) was exported once", soft_wrap=True)
    table = Table(show_header=True, header_style="bold")
    for col in ("sequences", "frames", "masks", "below --min-score", "empty", "not visible", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(str(stats.sequences), str(stats.frames), str(stats.masks), str(stats.filtered), str(stats.empty),
                  str(stats.invisible), f"{time.perf_counter() - start:.1f}")
    console.print(table)
    console.print(f"{fmt}: {Path(dest)}")
    if errors:
        console.print(f"[red]{len(errors)} sequence(s) skipped[/] (named above); the others were exported")
        raise SystemExit(1)
