"""``box2mask show``: overlays of one sequence's masks and boxes, as MP4 and/or contact sheet."""

from __future__ import annotations

import click
from rich.markup import escape

from box2mask.errors import Box2MaskError
from cli.progress import console, fail, track


@click.command("show")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--seq", "seq_id", required=True, metavar="SEQUENCE",
              help="Id of the sequence to draw, as `box2mask qa OUT` lists it.")
@click.option("--dest", required=True, type=click.Path(),
              help="NAME.mp4 (video), NAME.png (contact sheet) or a folder (both).")
@click.option("--motion/--no-motion", default=False, help="Lay the motion map over the frames (slower).")
@click.option("--fps", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Frames per second of the MP4 (one annotated frame per video frame).")
@click.option("--tiles", type=click.IntRange(min=1), default=24, show_default=True,
              help="Frames on the contact sheet, spread evenly.")
@click.option("--columns", type=click.IntRange(min=1), default=6, show_default=True,
              help="Tiles per row of the contact sheet.")
def command(out, seq_id, dest, motion, fps, tiles, columns):
    """Draw sequence SEQUENCE (--seq) of run OUT: mask tint and outline, the given box (white), the QA score.

    A frame that cannot be read (missing, truncated or corrupt file, a shard row whose mask
    cannot be decoded) is left out and listed; the other frames are drawn.
    """
    from box2mask.export.source import describe_skipped
    from cli.commands.export import fail_explained
    from pipelines.report import show

    skipped = []
    try:
        with track(f"show {seq_id}", None) as progress:
            written = show(out, seq_id, dest, motion=motion, fps=fps, tiles=tiles, columns=columns,
                           on_frame=lambda n: progress.advance(n),
                           on_warning=lambda m: console.print(f"[yellow]warning[/] {escape(m)}", soft_wrap=True),
                           on_skip=skipped.append)
    except KeyError as exc:
        fail(escape(str(exc.args[0])), "`box2mask qa OUT` lists the run's sequences")
    except (Box2MaskError, OSError, ValueError) as exc:
        fail_explained(exc, target=dest, default_hint="frames are read from the dataset root recorded in "
                                                      "OUT/run.json")
    for line in describe_skipped(skipped):
        console.print(f"[yellow]{escape(line)}[/]", soft_wrap=True)
    for path in written:
        console.print(f"wrote {path}")
