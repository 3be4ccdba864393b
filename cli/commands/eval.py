"""``box2mask eval``: J, F and J&F of a run against ground-truth masks."""

from __future__ import annotations

import math
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from box2mask.errors import Box2MaskError
from cli.options import parse_sequences
from cli.progress import console, fail, interactive, track

COLUMNS = [("J", "J"), ("F", "F"), ("JF", "J&F"), ("J_recall", "J rec≥.5"), ("J_recall_0.7", "J rec≥.7"),
           ("J_decay", "J decay"), ("F_recall", "F rec≥.5"), ("F_decay", "F decay")]


def print_wide(table, needed: int) -> None:
    """Print ``table``; when output is piped, at least ``needed`` columns wide (rich would cut it at 80)."""
    if interactive() or console.width >= needed:
        console.print(table)
        return
    width = console.width
    console.width = needed
    try:
        console.print(table)
    finally:
        console.width = width


def _fmt(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


@click.command("eval")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--gt", required=True, type=click.Path(exists=True),
              help="Ground truth: a DAVIS folder (Annotations/[480p/]<seq>/*.png), a COCO JSON or a YouTube-VIS JSON.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the JSON figures (default OUT/eval.json).")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the Markdown table (default OUT/eval.md).")
@click.option("--sampled-only", is_flag=True,
              help="Score only frames the run annotated (for runs that sample every n-th frame). "
                   "Default: every ground-truth frame counts; one without a prediction scores as empty.")
@click.option("--all-gt", is_flag=True,
              help="Count every ground-truth sequence, not only those in the run's manifest.")
@click.option("--sequences", "-s", default=None, help="Comma-separated sequences to score.")
@click.option("--per-frame", is_flag=True, help="Add per-frame J and F to the JSON.")
def command(out, gt, json_path, markdown_path, sampled_only, all_gt, sequences, per_frame):
    """Score run OUT against ground truth, DAVIS style (J region IoU, F boundary measure).

    Predictions are matched by sequence, frame file stem and track id (= object id).
    """
    from pipelines.evaluate import evaluate

    try:
        with track("eval", None) as progress:
            summary = evaluate(out, gt, json_path=json_path, markdown_path=markdown_path, sampled_only=sampled_only,
                               all_gt=all_gt, sequences=parse_sequences(sequences), per_frame=per_frame,
                               on_sequence=lambda s: progress.advance(1, extra=s))
    except OSError as exc:                 # a full disk, a read-only or forbidden --json/--markdown, ...
        from cli.commands.export import fail_explained

        fail_explained(exc, target=json_path or Path(out) / "eval.json",
                       default_hint="--gt takes a DAVIS folder, a COCO JSON or a YouTube-VIS JSON")
    except (Box2MaskError, ValueError, KeyError) as exc:
        fail(escape(str(exc)), "--gt takes a DAVIS folder, a COCO JSON or a YouTube-VIS JSON")
    scored = "only the frames the run annotated" if sampled_only else "every ground-truth frame counts"
    table = Table(show_header=True, header_style="bold", title=f"DAVIS measures ({scored})")
    names = [r["sequence"] if r["object"] == 1 else f"{r['sequence']}/{r['object']}" for r in summary["sequences"]]
    table.add_column("sequence", min_width=max([len(n) for n in names] + [8]), no_wrap=True)
    table.add_column("frames", justify="right", no_wrap=True, min_width=6)
    for _, head in COLUMNS:
        table.add_column(head, justify="right", no_wrap=True, min_width=5)
    for row in summary["sequences"]:
        name = row["sequence"] if row["object"] == 1 else f"{row['sequence']}/{row['object']}"
        table.add_row(name, str(row["frames"]), *(_fmt(row[k]) for k, _ in COLUMNS))
    table.add_row("[bold]mean[/]", str(summary["frames"]), *(f"[bold]{_fmt(summary[k])}[/]" for k, _ in COLUMNS))
    # piped output is not cut at 80 columns: the figures matter more than the line length
    needed = max(len(n) for n in names + ["sequence"]) + 3 + 9 + sum(max(len(h), 6) + 3 for _, h in COLUMNS) + 1
    print_wide(table, needed)
    if summary["missing_frames"]:
        console.print(f"[yellow]{summary['missing_frames']} ground-truth frames had no prediction and scored as "
                      "empty[/] (use --sampled-only for runs that sample frames)")
    if summary["missing_sequences"]:
        console.print(f"[yellow]no prediction at all for:[/] {', '.join(summary['missing_sequences'])}")
    for message in summary["errors"]:
        console.print(f"[red]not scored[/] {message}")
    if summary["unmatched_tracks"]:
        console.print(f"[dim]tracks with no ground-truth object (ignored): {', '.join(summary['unmatched_tracks'][:10])}[/]")
    console.print(f"J {_fmt(summary['J'])}  F {_fmt(summary['F'])}  J&F {_fmt(summary['JF'])}")
    console.print(f"json: {summary['_paths']['json']}  markdown: {summary['_paths']['markdown']}")
