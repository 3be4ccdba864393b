"""``box2mask demo``: the whole job on a small synthetic dataset generated on the spot."""

from __future__ import annotations

import contextlib

import click
from rich.markup import escape

from cli.progress import fail, say, track


class AnnotateBar:
    """The annotate step's frames as a :func:`cli.progress.track` bar (plain lines when not a terminal).

    Opened on the first progress snapshot (the total is known then) and closed as
    soon as the demo moves on to the next step, so later messages print below it.
    """

    def __init__(self) -> None:
        self.stack = contextlib.ExitStack()
        self.task = None
        self.done = 0

    def __enter__(self) -> "AnnotateBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.stack.close()
        self.task = None

    def update(self, snap) -> None:
        if self.task is None:
            self.task = self.stack.enter_context(track("annotate", snap.frames_total))
            self.done = snap.frames_done - snap.frames_session  # committed by an earlier run (resume)
            if self.done:
                self.task.skip(self.done)
        extra = f"videos {snap.sequences_done}/{snap.sequences_total}"
        if snap.failures:
            extra += f"  failures {snap.failures}"
        self.task.advance(snap.frames_done - self.done, extra=extra)
        self.done = snap.frames_done

    def step(self, name: str) -> None:
        if name != "annotate":
            self.close()


@click.command("demo")
@click.option("--out", "-o", type=click.Path(file_okay=False), default="demo-out", show_default=True,
              help="Where the synthetic data and every result go.")
@click.option("--method", default=None, help="Box-to-mask method (default: the pipeline's default, the network).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="CPU workers (default: all cores).")
def command(out, method, workers):
    """Generate 4 synthetic videos in GOT-10k layout, annotate them, export, score and report.

    Runs the same pipeline as `box2mask annotate` (Ray, shards, resume) with the
    same progress display, and prints J&F against the synthetic truth and where
    every result is.
    """
    from box2mask.errors import Box2MaskError
    from pipelines.demo import run_demo

    try:
        with AnnotateBar() as bar:
            result = run_demo(out, method=method, workers=workers, on_progress=bar.update, on_step=bar.step,
                              on_message=lambda m: say(f"[cyan]demo:[/] {escape(m)}"))
    except Box2MaskError as exc:
        fail(escape(str(exc)))
    s = result.scores
    say(f"\n[bold]box2mask demo[/] ({escape(result.method)}): J {s['J']:.3f}  F {s['F']:.3f}  "
        f"J&F {s['JF']:.3f} against the synthetic truth")
    say("results:")
    for label, path in (("data (GOT-10k layout)", result.data), ("run (manifest, shards)", result.run),
                        ("COCO", result.coco), ("YouTube-VIS", result.ytvis), ("DAVIS PNGs", result.davis),
                        ("scores", result.run.parent / "eval.json"), ("report", result.report)):
        say(f"  {label:24s} {escape(str(path))}")
