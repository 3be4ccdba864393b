"""``box2mask report``: a static HTML quality report of a run."""

from __future__ import annotations

import click
from rich.markup import escape

from box2mask.errors import Box2MaskError
from cli.progress import console


@click.command("report")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--dest", type=click.Path(), default=None, help="HTML file or folder (default OUT/report.html).")
@click.option("--best", type=click.IntRange(min=0), default=4, show_default=True, help="Best sequences to picture.")
@click.option("--worst", type=click.IntRange(min=0), default=4, show_default=True, help="Worst sequences to picture.")
@click.option("--frames", type=click.IntRange(min=1), default=6, show_default=True, help="Thumbnails per sequence.")
@click.option("--eval", "eval_json", type=click.Path(dir_okay=False), default=None,
              help="eval.json from `box2mask eval` to show J beside QA (default OUT/eval.json if present).")
def command(out, dest, best, worst, frames, eval_json):
    """Write one self-contained HTML file: QA histograms, best and worst sequences, worst masks, a table.

    With fewer than --best + --worst sequences, the lower half is pictured as worst and the
    upper half as best.  What cannot be read (a truncated or missing frame, an unreadable
    shard) is left out, listed in the report and here; the rest is reported.
    """
    from box2mask.export.source import describe_skipped
    from cli.commands.export import fail_explained
    from pipelines.report import report, report_path

    skipped = []
    try:
        path = report(out, dest, best=best, worst=worst, frames=frames, eval_json=eval_json,
                      on_warning=lambda m: console.print(f"[yellow]warning[/] {escape(m)}", soft_wrap=True),
                      on_skip=skipped.append)
    except (Box2MaskError, OSError, ValueError) as exc:
        fail_explained(exc, target=report_path(out, dest))
    for line in describe_skipped(skipped):
        console.print(f"[yellow]{escape(line)}[/]", soft_wrap=True)
    console.print(f"report: {path}")
