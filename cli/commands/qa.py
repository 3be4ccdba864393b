"""``box2mask qa``: the least trustworthy sequences and masks of a run, from the QA signals."""

from __future__ import annotations

import math

import click
from rich.markup import escape
from rich.table import Table

from box2mask.errors import Box2MaskError
from cli.commands.eval import print_wide
from cli.progress import console


def _fmt(v, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


@click.command("qa")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--worst", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many sequences to list.")
@click.option("--frames", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many single masks to list.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write every sequence's QA summary as JSON here.")
def command(out, worst, frames, json_path):
    """List the sequences and masks of run OUT with the lowest ground-truth-free QA score.

    The score combines box IoU (mask's tight box vs the given box), fill ratio,
    temporal stability and the method's confidence (docs/evaluation.md).  A shard or a
    sequence's rows that cannot be read are left out and listed; the rest is summarised.
    """
    from box2mask.export.source import describe_skipped
    from cli.commands.export import fail_explained
    from pipelines.evaluate import qa_summary

    try:
        summary = qa_summary(out, worst=frames, json_path=json_path)
    except (Box2MaskError, OSError, ValueError) as exc:
        fail_explained(exc, target=json_path)
    seqs = Table(show_header=True, header_style="bold", title=f"Worst {worst} sequences by mean QA score")
    listed = summary.worst_sequences(worst)
    width = max([len(s.sequence) for s in listed] + [len(m["sequence"]) for m in summary.worst_frames] + [8])
    seqs.add_column("sequence", min_width=width, no_wrap=True)
    for col in ("masks", "mean QA", "p10", "min", "< 0.5", "box IoU", "fill", "temporal", "confidence", "worst frame"):
        seqs.add_column(col, justify="left" if col == "worst frame" else "right")
    for s in listed:
        seqs.add_row(s.sequence, str(s.masks), _fmt(s.mean), _fmt(s.p10), _fmt(s.min), f"{100 * s.low:.0f} %",
                     _fmt(s.box_iou), _fmt(s.fill), _fmt(s.temporal), _fmt(s.confidence), s.worst_frame or "—")
    print_wide(seqs, width + 112)
    masks = Table(show_header=True, header_style="bold", title=f"Worst {len(summary.worst_frames)} masks")
    masks.add_column("sequence", min_width=width, no_wrap=True)
    for col in ("frame", "track", "QA", "box IoU", "fill", "temporal", "confidence"):
        masks.add_column(col, justify="left" if col == "frame" else "right", no_wrap=col == "frame")
    for m in summary.worst_frames:
        masks.add_row(m["sequence"], m["frame_stem"], str(m["track_id"]), _fmt(m["qa_score"]), _fmt(m["box_iou"]),
                      _fmt(m["fill"]), _fmt(m["temporal"]), _fmt(m["confidence"]))
    print_wide(masks, width + 82)
    for line in describe_skipped(summary.skipped):
        console.print(f"[yellow]{escape(line)}[/]", soft_wrap=True)
    if summary.box_test_failed:
        console.print(f"box test: {summary.box_test_failed} mask(s) failed it (covering too little of their box), "
                      f"{summary.replaced} replaced by the fallback; shards hold the reason (mask_note) and "
                      "the method (mask_source)")
        for m in summary.worst_frames:
            if m.get("mask_note"):
                console.print(escape(f"  {m['sequence']}/{m['frame_stem']}: {m['mask_note']} "
                                     f"-> {m.get('mask_source') or 'kept'}"), soft_wrap=True)
    console.print(f"{summary.masks} masks in {len(summary.sequences)} sequences"
                  + (f"; json: {json_path}" if json_path else ""))
