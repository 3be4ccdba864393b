"""``box2mask motion``: per-frame motion maps (box-guided camera compensation + temporal matching)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from box2mask.errors import Box2MaskError
from cli.options import dataset_options_with, parse_sequences
from cli.progress import console, fail, track

CONFIGS = ("none", "bf", "bf-bdf", "full")

# motion maps every frame unless asked otherwise, so --every and --max-frames are not annotate's
# (cli/options.py, whose help speaks of annotated frames and the dataset presets)
every_option = click.option(
    "--every", type=click.IntRange(min=1), default=None,
    help="Write a motion map only for every n-th frame (default: every frame; the neighbouring frames "
         "are still read to compute each map).")
max_frames_option = click.option(
    "--max-frames", type=click.IntRange(min=0), default=None,
    help="At most this many motion maps per video, spread evenly (default and 0: no limit).")


@click.command("motion")
@dataset_options_with(every=every_option, max_frames=max_frames_option)
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True,
              help="Folder for OUT/<sequence>/<frame stem>.png (8-bit maps, 255 = strongest motion).")
@click.option("--config", "config_name", type=click.Choice(CONFIGS), default="full", show_default=True,
              help="Filters: none, bf (Box Filter), bf-bdf (+ Bi-Directional Filter), full (+ Temporal Matching).")
@click.option("--side-by-side", is_flag=True, default=False,
              help="Also write OUT/<sequence>/side-by-side/<frame stem>.jpg: frame with boxes | colour-mapped motion.")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Sequences mapped at once, one process (one core) each.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="OpenCV threads per process (the stage is built to run one core per process).")
def command(dataset, root, split, every, max_frames, sequences, out, config_name, side_by_side, workers, threads):
    """Write a motion map for every frame of each sequence (streamed, memory does not grow with length).

    Unlike annotation, motion maps every frame by default; --every / --max-frames
    restrict it to the sampled frames.  Re-running finishes what is missing and
    skips complete sequences; a broken sequence is reported and the rest go on
    (exit status 1 if any failed).

    \b
    Examples:
      box2mask motion --dataset davis --root ../shared/data/davis16-dev --out motion/
      box2mask motion -d lasot -r /data/LaSOT -s airplane-1 --out motion/ --side-by-side
    """
    from box2mask.motion.config import preset
    from pipelines.motion import run_motion

    start = time.perf_counter()
    config = preset(config_name)
    failures: list[str] = []
    try:
        with track(f"motion {config_name}", None) as progress:
            def on_total(n):
                if hasattr(progress, "progress"):
                    progress.progress.update(progress.task, total=n)
                else:
                    progress.total = n

            def on_frame(seq, done, todo):
                if done == todo or done % 25 == 0:
                    progress.advance(0, extra=f"{seq} {done}/{todo} frames")

            def on_sequence(result):
                if result.status == "failed":
                    failures.append(result.id)
                    console.print(f"[red]failed[/] {result.id}: {result.reason}")
                progress.advance(1, extra=f"{result.id} {result.status}")

            summary = run_motion(dataset, root, Path(out), config=config, split=split,
                                 ids=parse_sequences(sequences), every=every, max_frames=max_frames,
                                 side_by_side_images=side_by_side, threads=threads, workers=workers,
                                 on_total=on_total, on_frame=on_frame, on_sequence=on_sequence)
    except (Box2MaskError, OSError) as exc:
        fail(escape(str(exc)), "check --dataset/--root, or use a fresh --out for another configuration")
    elapsed = time.perf_counter() - start
    table = Table(show_header=True, header_style="bold")
    for col in ("sequences", "done", "skipped", "failed", "maps written", "fallback frames", "seconds", "frames/s"):
        table.add_column(col, justify="right")
    fallbacks = sum(r.fallbacks for r in summary.results)
    table.add_row(str(len(summary.results)), str(summary.count("done")), str(summary.count("skipped")),
                  str(len(summary.failed)), str(summary.written), str(fallbacks), f"{elapsed:.1f}",
                  f"{summary.written / max(elapsed, 1e-9):.1f}")
    console.print(table)
    console.print(f"maps: {Path(out)}/<sequence>/<frame stem>.png")
    if failures:
        console.print(f"[red]{len(failures)} sequence(s) failed[/]; reasons in {Path(out) / 'failures.json'}")
        raise SystemExit(1)
