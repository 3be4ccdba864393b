"""``box2mask show``: overlays of one sequence's masks and boxes, as MP4 and/or contact sheet."""

from __future__ import annotations

import click

from box2mask.errors import Box2MaskError
from cli.progress import console, fail, track


@click.command("show")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--seq", "seq_id", required=True, help="The sequence to draw.")
@click.option("--dest", required=True, type=click.Path(),
              help="NAME.mp4 (video), NAME.png (contact sheet) or a folder (both).")
@click.option("--motion/--no-motion", default=False, help="Lay the motion map over the frames (slower).")
@click.option("--fps", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@click.option("--tiles", type=click.IntRange(min=1), default=24, show_default=True,
              help="Frames on the contact sheet, spread evenly.")
@click.option("--columns", type=click.IntRange(min=1), default=6, show_default=True)
def command(out, seq_id, dest, motion, fps, tiles, columns):
    """Draw sequence SEQ of run OUT: mask tint and outline, the given box (white), the QA score."""
    from pipelines.report import show

    try:
        with track(f"show {seq_id}", None) as progress:
            written = show(out, seq_id, dest, motion=motion, fps=fps, tiles=tiles, columns=columns,
                           on_frame=lambda n: progress.advance(n),
                           on_warning=lambda m: console.print(f"[yellow]warning[/] {m}"))
    except KeyError as exc:
        fail(str(exc.args[0]), "`box2mask qa OUT` lists the run's sequences")
    except (Box2MaskError, OSError, ValueError) as exc:
        fail(str(exc), "frames are read from the dataset root recorded in OUT/run.json")
    for path in written:
        console.print(f"wrote {path}")
