"""``box2mask scan``: validate a dataset and write its manifest."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from box2mask.errors import DatasetError
from cli.options import dataset_options, parse_sequences
from cli.progress import console, fail, track


@click.command("scan")
@dataset_options
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True,
              help="Folder to write manifest.parquet into (created if needed).")
@click.option("--show-warnings/--hide-warnings", default=True, help="List each sequence's warnings.")
def command(dataset, root, split, every, max_frames, sequences, out, show_warnings):
    """Check every sequence of a dataset and write OUT/manifest.parquet.

    Broken sequences are listed with the file, line and problem, and kept in the
    manifest as "invalid" so later steps skip them; the valid ones go ahead.
    Exit status: 0 when every sequence is valid, 3 when some are not, 2 for a
    usage error or an unusable dataset root.
    """
    from box2mask.export.failures import os_error
    from pipelines.scan import save_manifest, scan_dataset

    start = time.perf_counter()
    state = {}
    try:
        with track("scan", None) as progress:
            def on_total(n):
                state["total"] = n
                if hasattr(progress, "progress"):
                    progress.progress.update(progress.task, total=n)

            def on_sequence(result):
                progress.advance(1, extra=result.id)

            table = scan_dataset(dataset, root, split=split, every=every, max_frames=max_frames,
                                 ids=parse_sequences(sequences), on_total=on_total, on_sequence=on_sequence)
    except DatasetError as exc:
        fail(str(exc), "check --dataset and --root; docs/formats.md shows each layout")
    try:
        path = save_manifest(table, Path(out))
    except OSError as exc:
        err = os_error(exc, Path(out) / "manifest.parquet")
        fail(str(err), err.hint)
    elapsed = time.perf_counter() - start
    rows = table.to_pylist()
    bad = [r for r in rows if r["status"] != "ok"]
    for r in bad:
        for e in r["errors"]:
            console.print(f"[red]invalid[/] {e}")
    if show_warnings:
        for r in rows:
            for w in r["warnings"]:
                console.print(f"[yellow]warning[/] {w}")
    summary = Table(show_header=True, header_style="bold")
    for col in ("sequences", "valid", "invalid", "frames", "sampled", "seconds"):
        summary.add_column(col, justify="right")
    summary.add_row(str(len(rows)), str(len(rows) - len(bad)), str(len(bad)),
                    str(sum(r["num_frames"] for r in rows)), str(sum(r["num_sampled"] for r in rows)),
                    f"{elapsed:.2f}")
    console.print(summary)
    console.print(f"manifest: {path}")
    if bad:
        raise SystemExit(3)  # like annotate: some sequences cannot be used (the valid ones are in the manifest)
