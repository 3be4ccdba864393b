"""``box2mask demo``: the whole job on a small synthetic dataset generated on the spot."""

from __future__ import annotations

import click

from cli.progress import console, fail


@click.command("demo")
@click.option("--out", "-o", type=click.Path(file_okay=False), default="demo-out", show_default=True,
              help="Where the synthetic data and every result go.")
@click.option("--method", default=None, help="Box-to-mask method (default: the pipeline's default, the network).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="CPU workers (default: all cores).")
def command(out, method, workers):
    """Generate 4 synthetic videos in GOT-10k layout, annotate them, export, score and report.

    Runs the same pipeline as `box2mask annotate` (Ray, shards, resume) and
    prints J&F against the synthetic truth and where every result is.
    """
    from box2mask.errors import Box2MaskError
    from pipelines.demo import run_demo

    try:
        result = run_demo(out, method=method, workers=workers, on_message=lambda m: console.print(m))
    except Box2MaskError as exc:
        fail(str(exc))
    s = result.scores
    console.print(f"\n[bold]box2mask demo[/] ({result.method}): J {s['J']:.3f}  F {s['F']:.3f}  "
                  f"J&F {s['JF']:.3f} against the synthetic truth")
    for label, path in (("data (GOT-10k layout)", result.data), ("run (manifest, shards)", result.run),
                        ("COCO", result.coco), ("YouTube-VIS", result.ytvis), ("DAVIS PNGs", result.davis),
                        ("scores", result.run.parent / "eval.json"), ("report", result.report)):
        console.print(f"  {label:24s} {path}")
