"""``box2mask status``: what a run folder holds, safe to call while the run is going."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from cli.progress import console, fail


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@click.command("status")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--failures", "show_failures", type=click.IntRange(min=0), default=10, show_default=True,
              help="List at most this many failed sequences (0: none).")
def command(out, show_failures):
    """Summarise the annotate run in OUT: done, pending and failed shards, frames, throughput."""
    from box2mask.errors import Box2MaskError
    from pipelines.status import run_status

    try:
        st = run_status(Path(out))
    except Box2MaskError as exc:
        fail(escape(str(exc)), "give the --out folder of a `box2mask annotate` run")
    info = st.info
    console.print(f"[bold]{escape(str(st.out))}[/]  {info.dataset} ({escape(info.root)})  method {info.method}"
                  + (f"  weights sha256 {info.weights_sha256[:12]}" if info.weights_sha256 else "")
                  + f"  box2mask {info.version}")
    console.print(f"state: {escape(st.lock)}")
    if st.info.config.get("adapt") is not None:
        phase = st.adapt or {"phase": "not started", "step": 0, "steps": 0}
        steps = f" step {phase['step']}/{phase['steps']}" if phase["phase"] == "train" else ""
        adapted = st.info.adapted
        console.print(f"adapt: {phase['phase']}{steps}" + (
            f"; masks made with {escape(adapted['weights'])} ({adapted['weights_sha256'][:12]}, "
            f"{adapted['steps']} steps)" if adapted else ""))
    table = Table(show_header=True, header_style="bold")
    for col in ("", "done", "pending", "failed", "total"):
        table.add_column(col, justify="right")
    table.add_row("shards", str(st.shards_done), str(st.shards_pending), str(len(st.failed_shards)),
                  str(st.shards_total))
    table.add_row("sequences", str(st.sequences_done),
                  str(st.sequences_total - st.sequences_done - st.sequences_failed), str(st.sequences_failed),
                  str(st.sequences_total))
    table.add_row("frames", str(st.frames_done), str(st.frames_total - st.frames_done), "", str(st.frames_total))
    console.print(table)
    if st.frames_per_second:
        remaining = (st.frames_total - st.frames_done) / st.frames_per_second
        console.print(f"throughput: {st.frames_per_second:.1f} frames/s over {clock(st.busy_seconds)} busy "
                      f"({st.worker_frames_per_second:.1f} per worker, {len(st.nodes)} node(s)); "
                      f"at that rate the rest takes {clock(remaining)}")
    if st.invalid_sequences:
        console.print(f"[yellow]{st.invalid_sequences} invalid sequence(s)[/] skipped at scan "
                      "(see failures.jsonl, stage 'scan')")
    if st.failures:
        stages = ", ".join(f"{k} {v}" for k, v in sorted(st.failures_by_stage.items()))
        console.print(f"[yellow]failures:[/] {len(st.failures)} ({stages}) in {escape(str(st.out))}/failures.jsonl")
        for failure in st.failures[:show_failures]:
            console.print(escape(f"  {failure.sequence} [{failure.stage}] {failure.error}"))
    for shard_id, reason in st.damaged_shards.items():
        console.print(escape(f"damaged shard {shard_id} ({reason}): the next `box2mask annotate` with the same "
                             "options on this folder moves it aside and recomputes it"), style="red")
    if st.failed_shards:
        console.print(f"[red]failed shards[/] {', '.join(st.failed_shards[:20])}: run the same annotate "
                      "command again to retry them")
    elif st.complete and not st.sequences_failed:
        console.print("[green]complete[/]")
