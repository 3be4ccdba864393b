"""``box2mask annotate``: boxes to masks on Ray, sharded and resumable, with live progress."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.options import dataset_options, parse_sequences
from cli.progress import console, fail, interactive
from pipelines.annotate.adapt import TEACHERS
from pipelines.annotate.config import DEFAULT_METHOD, DEFAULT_SHARD_FRAMES

EXIT_FAILED = 3  # some sequences or shards failed; 2 (usage/configuration) comes from fail() and click


def parse_method_options(values: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` pairs; a VALUE that parses as JSON (``5``, ``0.5``, ``true``) keeps its type."""
    options = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--method-option")
        try:
            options[key.strip()] = json.loads(raw)
        except ValueError:
            options[key.strip()] = raw
    return options


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--"
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Display:
    """Rich progress on a terminal; a plain line every ``every`` seconds otherwise (logs, CI)."""

    def __init__(self, *, every: float = 10.0):
        self.rich = interactive()
        self.every = every
        self.last_line = 0.0
        self.last_state = None
        self.progress: Progress | None = None
        self.scan_task = None
        self.run_task = None
        self.adapt_tasks: dict[tuple[str, str], int] = {}   # (adapt phase, teacher) -> its progress task

    def __enter__(self) -> "Display":
        if self.rich:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=console, transient=False)
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def message(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(f"[cyan]annotate:[/] {escape(text)}")
        else:
            print(f"[annotate] {text}", file=sys.stderr, flush=True)

    def scan_total(self, total: int) -> None:
        if self.progress is not None:
            self.scan_task = self.progress.add_task("scan", total=total, info="")
        else:
            print(f"[annotate] scanning {total} sequences", file=sys.stderr, flush=True)

    def scanned(self, result) -> None:
        if self.progress is not None and self.scan_task is not None:
            self.progress.update(self.scan_task, advance=1, info=escape(result.id))

    def adapt(self, report) -> None:
        """The --adapt phase: the teacher's frames, then training steps with the losses, rate and ETA."""
        if report.phase not in ("teacher", "train") or not report.steps:
            return
        losses = " ".join(f"{k[:4]}={v:.3f}" for k, v in report.losses)
        left = (report.steps - report.step) / report.steps_per_second if report.steps_per_second > 0 else None
        info = (f"{report.steps_per_second:.2f} steps/s  ETA {clock(left)}  {losses}" if report.phase == "train"
                else f"{report.teacher} teacher")
        if self.progress is not None:
            task = (report.phase, report.teacher)
            if task not in self.adapt_tasks:
                self.adapt_tasks[task] = self.progress.add_task(f"adapt {report.phase}", total=report.steps, info="")
            self.progress.update(self.adapt_tasks[task], completed=report.step, info=info)
            return
        now = time.monotonic()
        if now - self.last_line >= self.every or report.step >= report.steps:
            self.last_line = now
            print(f"[annotate] adapt {report.phase} {report.step}/{report.steps}  {info}", file=sys.stderr, flush=True)

    def update(self, snap) -> None:
        info = (f"seq {snap.sequences_done}/{snap.sequences_total}  {snap.frames_per_second:.1f} frames/s  "
                f"ETA {clock(snap.eta_seconds)}  failures {snap.failures}")
        if self.progress is not None:
            if self.run_task is None:
                self.run_task = self.progress.add_task("frames", total=snap.frames_total, info="")
            self.progress.update(self.run_task, completed=snap.frames_done, info=info)
            return
        now = time.monotonic()
        state = (snap.shards_done, snap.frames_done, snap.failures)
        finished = snap.frames_done >= snap.frames_total
        if state != self.last_state and (now - self.last_line >= self.every or finished):
            self.last_line, self.last_state = now, state
            print(f"[annotate] shards {snap.shards_done}/{snap.shards_total}  frames "
                  f"{snap.frames_done}/{snap.frames_total}  {info}", file=sys.stderr, flush=True)


@click.command("annotate")
@dataset_options
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Run folder: manifest.parquet, run.json, shards/, failures.jsonl. Re-run the same command "
                   "to resume.")
@click.option("--method", default=DEFAULT_METHOD, show_default=True,
              help="Box-to-mask method: network (the shipped video network), grabcut or filled-box (baselines).")
@click.option("--method-option", "-O", "method_option", multiple=True, metavar="KEY=VALUE",
              help="Option passed to the method's constructor, e.g. -O iterations=3 (grabcut) or "
                   "-O flip=true (network: mirror averaging, twice the work; box2mask/weights/MODEL_CARD.md). Typos are refused with "
                   "the valid keys listed. Repeatable.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False),
              help="Model weights for the method; their SHA-256 goes into run.json.")
@click.option("--gpus", type=click.IntRange(min=0), default=0, show_default=True,
              help="GPUs for inference (each one's actors batch crops and run in bfloat16). 0, or a cluster "
                   "without GPUs, runs inference on CPU.")
@click.option("--actors-per-gpu", type=click.IntRange(min=1), default=1, show_default=True,
              help="Inference actors sharing each GPU (num_gpus=1/N each), so one actor's host-side work "
                   "overlaps another's GPU work; see docs/pipeline.md.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="CPU shard workers (decode, crop, paste back, encode). Default: all CPUs of the cluster "
                   "(minus one per GPU).")
@click.option("--address", default=None,
              help="Join an existing Ray cluster (e.g. 10.0.0.1:6379 or 'auto'); default: a local one.")
@click.option("--shard-frames", type=click.IntRange(min=1), default=DEFAULT_SHARD_FRAMES, show_default=True,
              help="Mask rows per shard (the unit of commit and resume). A longer video gets its own shard.")
@click.option("--adapt", is_flag=True,
              help="Before writing masks, fine-tune the network on this run's own boxes (GrabCut's and the "
                   "network's masks of the same boxes as a teacher, the box losses), then annotate with the "
                   "adapted weights, kept in OUT/adapt/. A step takes about 1 s on 2 CPU cores: about 30 min "
                   "per 1,000 frames with the teacher runs, training capped at 2,000 steps (about 35 min); see "
                   "docs/network.md, 'Adapting to your dataset'.")
@click.option("--adapt-steps", type=click.IntRange(min=1), default=None,
              help="Fine-tuning steps for --adapt (default: 1.5 steps per mask row, 200 to 2,000).")
@click.option("--adapt-teacher", type=click.Choice(TEACHERS), default=None,
              help="The teacher term of --adapt: blend (default: the mean of GrabCut's and the starting "
                   "network's masks of the same boxes, soft where they disagree), grabcut, network or none "
                   "(the box losses alone).")
@click.option("--force", is_flag=True,
              help="Accept a configuration different from OUT/run.json: the old results are moved to "
                   "OUT/superseded/<time>/ (not deleted) and the run starts over.")
def command(dataset, root, split, every, max_frames, sequences, out, method, method_option, weights, gpus,
            actors_per_gpu, workers, address, shard_frames, adapt, adapt_steps, adapt_teacher, force):
    """Turn a dataset's boxes into masks, sharded and resumable, on Ray.

    \b
    Exit status: 0 when every sequence has its masks, 3 when some sequences
    or shards failed (listed, and in OUT/failures.jsonl; re-run to retry), 2 for
    a usage or configuration error.

    \b
    Writes OUT/shards/<id>.parquet (one row per sequence, track and frame: RLE,
    size, source box, mask box, score, visibility), OUT/manifest.parquet,
    OUT/run.json and OUT/failures.jsonl. Every file is written atomically: after a
    crash, run the same command again and only unfinished shards are redone.
    `box2mask status OUT` summarises a run, from any machine that sees OUT.
    """
    from box2mask.errors import Box2MaskError
    from box2mask.export.failures import os_error
    from pipelines.annotate import AnnotateConfig, annotate
    from pipelines.annotate.adapt import AdaptConfig
    from pipelines.annotate.stages import InfrastructureError

    try:
        config = AnnotateConfig(
            dataset=dataset, root=Path(root), out=Path(out), split=split, every=every, max_frames=max_frames,
            sequences=tuple(parse_sequences(sequences)) if sequences else None,
            method=method, method_options=parse_method_options(method_option),
            weights=Path(weights) if weights else None, shard_frames=shard_frames,
            adapt=AdaptConfig(steps=adapt_steps, **({"teacher": adapt_teacher} if adapt_teacher else {}))
            if adapt else None)
        for name, value in (("--adapt-steps", adapt_steps), ("--adapt-teacher", adapt_teacher)):
            if value is not None and not adapt:
                raise Box2MaskError(f"{name} needs --adapt")
    except Box2MaskError as exc:
        fail(escape(str(exc)))
    try:
        with Display() as display:
            summary = annotate(config, gpus=gpus, actors_per_gpu=actors_per_gpu, workers=workers, address=address,
                               force=force,
                               on_message=display.message, on_progress=display.update,
                               on_scan_total=display.scan_total, on_scan=display.scanned, on_adapt=display.adapt)
    except InfrastructureError as exc:
        fail(escape(str(exc)), "check the Ray cluster (`ray status`) and that box2mask is installed on every node")
    except Box2MaskError as exc:
        fail(escape(str(exc)))
    except ConnectionError as exc:  # an OSError to Python, but Ray's, not the disk's
        fail(escape(f"lost the connection to the Ray cluster: {' '.join(str(exc).split())}"),
             "check the cluster (`ray status`); re-run the same command to resume")
    except OSError as exc:  # disk full, permissions: name the path and the cause
        err = os_error(exc, config.out)
        fail(escape(str(err)), err.hint)
    show_summary(summary)
    if not summary.complete or summary.failed_sequences:
        raise SystemExit(EXIT_FAILED)


def show_summary(summary) -> None:
    table = Table(show_header=False, box=None, padding=(0, 2), title="annotate summary", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("shards", f"{summary.shards_total} total: {summary.shards_skipped} already done, "
                            f"{summary.shards_committed} committed now, {len(summary.failed_shards)} failed")
    table.add_row("frames", f"{summary.rows_written} written now of {summary.frames_total} planned "
                            f"({summary.frames_per_second:.1f} frames/s over {summary.work_seconds:.1f} s of work; "
                            f"{summary.seconds:.1f} s in all, of which Ray start-up {summary.ray_start_seconds:.1f} s "
                            f"and shut-down {summary.ray_stop_seconds:.1f} s)")
    table.add_row("workers", f"{summary.workers} CPU worker(s), {summary.infer_actors} inference actor(s), "
                             f"{len(summary.nodes)} node(s) used")
    table.add_row("failed sequences", str(summary.failed_sequences))
    console.print(table)
    out = escape(str(summary.out))
    console.print(f"masks:    {out}/shards/")
    console.print(f"run:      {out}/run.json")
    console.print(f"manifest: {out}/manifest.parquet")
    if summary.failed_sequences:
        console.print(f"[yellow]failures:[/] {out}/failures.jsonl ({summary.failed_sequences} sequences)")
        for failure in summary.failures[:10]:
            console.print(escape(f"  {failure.sequence} [{failure.stage}] {failure.error}"))
        if len(summary.failures) > 10:
            console.print(f"  ... and {len(summary.failures) - 10} more (`box2mask status {out}`)")
    if summary.superseded:
        console.print(f"previous results: {escape(str(summary.superseded))}")
    if summary.complete:
        console.print(f"next:     box2mask status {out}")
        console.print(f"          box2mask export {out} --format coco --dest {out}/coco.json")
    else:
        console.print(f"[red]incomplete:[/] shards {', '.join(summary.failed_shards) or '?'} failed; "
                      "run the same command again to retry them")
