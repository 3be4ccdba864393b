"""The annotate driver: plan, skip what is committed, keep shards flowing, commit results.

::

    lock OUT -> RunFolder: check / write run.json -> manifest (scan once) -> plan shards
      -> repair (temporaries, damaged shards) -> todo -> [--adapt: teacher run, fine-tune (adapt.py)]
      -> Ray: shard workers (CPU) [-> inference actors (GPU)]
      -> ShardScheduler: least-loaded worker first -> per finished shard: commit (failures, shard file, stats)

The driver holds at most ``shards_per_worker`` shards per worker in flight, so
a crash loses only those; everything committed stays, and the next run with the
same command picks up the rest.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from box2mask.datasets import open_dataset
from box2mask.datasets.manifest import ScanResult
from box2mask.runs import RunInfo, RunPaths
from pipelines.annotate import ray_runtime as rt
from pipelines.annotate.adapt import AdaptProgress, AdaptResult, run_adapt
from pipelines.annotate.commit import FailureLog, commit_shard, standing_failures
from pipelines.annotate.config import AnnotateConfig, check_method, fingerprint, weights_digest
from pipelines.annotate.lock import RunLock
from pipelines.annotate.plan import ShardSpec, plan_shards
from pipelines.annotate.records import Failure
from pipelines.annotate.runfolder import RunFolder
from pipelines.annotate.scheduler import ShardScheduler
from pipelines.annotate.stages import InfrastructureError, WorkerSetup
from pipelines.scan import check_sequence_ids

# A shard whose worker process is lost for good (after Ray's own restarts) is
# put back in the queue this many times before it is recorded as failed.
MAX_SHARD_ATTEMPTS = 3


@dataclass(frozen=True)
class ProgressSnapshot:
    """Where the run stands; ``frames`` are mask rows, i.e. (track, annotated frame) pairs."""

    shards_total: int
    shards_done: int
    shards_failed: int
    sequences_total: int
    sequences_done: int
    frames_total: int
    frames_done: int
    frames_session: int      # finished by this invocation (committed + partial in running shards)
    failures: int            # failed or invalid sequences known so far
    elapsed: float           # seconds since this invocation started working on shards

    @property
    def frames_per_second(self) -> float:
        return self.frames_session / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.frames_per_second
        return (self.frames_total - self.frames_done) / rate if rate > 0 else None


@dataclass
class AnnotateSummary:
    out: Path
    shards_total: int
    shards_skipped: int                      # already committed when this run started
    shards_committed: int                    # committed by this run
    failed_shards: list[str]
    failed_sequences: int                    # in failures.jsonl (this and earlier runs, incl. invalid)
    frames_total: int
    rows_written: int                        # rows committed by this run
    seconds: float                           # the whole call: lock, scan, Ray start, shards
    work_seconds: float = 0.0                # from the first shard sent to the last committed
    ray_start_seconds: float = 0.0           # connecting / starting Ray and its actors until all answered
    ray_stop_seconds: float = 0.0            # shutting them down
    nodes: set[str] = field(default_factory=set)
    workers: int = 0
    infer_actors: int = 0
    superseded: Path | None = None
    failures: list[Failure] = field(default_factory=list)  # the standing ones (commit.standing_failures)
    adapted: AdaptResult | None = None       # --adapt: the weights the masks were made with

    @property
    def complete(self) -> bool:
        return not self.failed_shards and self.shards_skipped + self.shards_committed == self.shards_total

    @property
    def frames_per_second(self) -> float:
        """Rows committed per second of shard processing (Ray start-up and the scan excluded)."""
        return self.rows_written / self.work_seconds if self.work_seconds > 0 else 0.0


def _noop(*_args) -> None:
    return None


def annotate(config: AnnotateConfig, *, gpus: int = 0, workers: int | None = None, address: str | None = None,
             force: bool = False, infer_actors: int | None = None, actors_per_gpu: int = 1,
             on_message: Callable[[str], None] | None = None,
             on_progress: Callable[[ProgressSnapshot], None] | None = None,
             on_scan_total: Callable[[int], None] | None = None,
             on_scan: Callable[[ScanResult], None] | None = None,
             on_adapt: Callable[[AdaptProgress], None] | None = None,
             progress_every: float = 0.5) -> AnnotateSummary:
    """Annotate ``config`` into ``config.out``, resuming what a previous run left.

    ``gpus``: GPUs for inference, each shared by ``actors_per_gpu`` inference actors
    (0 or no GPU in the cluster: inference runs inside the CPU workers).  ``workers``: CPU shard workers
    (default: what the cluster offers).  ``address``: an existing Ray cluster.
    ``force``: accept a configuration that differs from ``run.json``; the old
    results are moved to ``OUT/superseded/<time>/``, never mixed or deleted.
    ``config.adapt``: fine-tune the network on the run's boxes before its shards
    (:mod:`pipelines.annotate.adapt`); skipped when every shard is committed.
    """
    say = on_message or _noop
    check_method(config)
    if config.sequences:
        check_sequence_ids(open_dataset(config.dataset, config.root, split=config.split), list(config.sequences))
    weights_sha = weights_digest(config)
    wanted = fingerprint(config, weights_sha)
    folder = RunFolder(config, say)
    t_start = time.perf_counter()
    with RunLock(config.out, on_message=say):
        folder.open(wanted, weights_sha, force=force)
        manifest = folder.manifest(on_scan_total=on_scan_total, on_scan=on_scan)
        plan = plan_shards(manifest, config.shard_frames)
        failures = folder.failures(manifest)
        folder.repair(plan)
        todo = folder.todo(plan)
        summary = AnnotateSummary(out=config.out, shards_total=len(plan), shards_skipped=len(plan) - len(todo),
                                  shards_committed=0, failed_shards=[], failed_sequences=0,
                                  frames_total=sum(s.rows for s in plan), rows_written=0, seconds=0.0,
                                  superseded=folder.superseded)
        if summary.shards_skipped:
            say(f"resuming: {summary.shards_skipped} of {len(plan)} shards already committed, {len(todo)} to do")
        if todo and config.adapt is not None:
            summary.adapted = _adapt(config, manifest, summary.frames_total, folder, gpus=gpus, workers=workers,
                                     address=address, say=say, on_adapt=on_adapt or _noop)
            config = replace(config, weights=summary.adapted.weights)  # what the shard workers load
        if todo:
            _run_on_ray(config, plan, todo, folder.paths, failures, summary, gpus=gpus, workers=workers,
                        address=address, infer_actors=infer_actors, actors_per_gpu=actors_per_gpu, say=say,
                        on_progress=on_progress or _noop, progress_every=progress_every)
        else:
            say("nothing to do: every shard is committed")
        summary.failures = standing_failures(failures.entries, folder.committed(plan))
        summary.failed_sequences = len({f.sequence for f in summary.failures})
    summary.seconds = time.perf_counter() - t_start
    return summary


def _adapt(config: AnnotateConfig, manifest, frames: int, folder: RunFolder, *, gpus: int, workers: int | None,
           address: str | None, say: Callable[[str], None],
           on_adapt: Callable[[AdaptProgress], None]) -> AdaptResult:
    """The ``--adapt`` phase: teacher runs of the same boxes (GrabCut, the starting network or both), then
    fine-tuning; recorded in run.json."""
    from box2mask.model.weights import DEFAULT_WEIGHTS

    sequences = [r["id"] for r in manifest.select(["id", "status"]).to_pylist() if r["status"] == "ok"]

    def run_teacher(out: Path, every: int, method: str) -> None:
        weights = (config.weights or DEFAULT_WEIGHTS) if method == "network" else None
        teacher = AnnotateConfig(dataset=config.dataset, root=config.root, out=out, split=config.split, every=every,
                                 max_frames=0, sequences=tuple(sequences), method=method, weights=weights)
        result = annotate(teacher, gpus=gpus if method == "network" else 0, workers=workers, address=address,
                          on_message=lambda m: say(f"teacher: {m}"),
                          on_progress=lambda snap: on_adapt(AdaptProgress("teacher", snap.frames_done,
                                                                          snap.frames_total, teacher=method)))
        if not result.complete:
            raise InfrastructureError(f"the --adapt teacher run in {out} did not finish; re-run to resume it")

    result = run_adapt(dataset=config.dataset, root=config.root, split=config.split, sequences=sequences,
                       frames=frames, out=config.out, base_weights=config.weights or DEFAULT_WEIGHTS,
                       config=config.adapt, run_teacher=run_teacher, gpus=gpus, address=address, say=say,
                       on_progress=on_adapt)
    info = RunInfo.load(folder.paths.run_json)
    record = {"weights": str(result.weights), "weights_sha256": result.weights_sha256,
              "base_weights_sha256": result.base_weights_sha256, "steps": result.steps, "seconds": result.seconds}
    replace(info, adapted=record).save(folder.paths.run_json)
    say(f"adapt: done; annotating with {result.weights} ({result.weights_sha256[:12]})")
    return result


# -- the Ray part --------------------------------------------------------------------------------

def _run_on_ray(config: AnnotateConfig, plan: list[ShardSpec], todo: list[ShardSpec], paths: RunPaths,
                failures: FailureLog, summary: AnnotateSummary, *, gpus: int, workers: int | None,
                address: str | None, infer_actors: int | None, actors_per_gpu: int, say: Callable[[str], None],
                on_progress: Callable[[ProgressSnapshot], None], progress_every: float) -> None:
    t_connect = time.perf_counter()
    started_ray = rt.connect(address)
    actors: list = []
    try:
        res = rt.plan_resources(gpus=gpus, workers=workers, infer_actors=infer_actors, actors_per_gpu=actors_per_gpu,
                                warn=say)
        summary.workers, summary.infer_actors = res.workers, res.infer_actors
        mode = (f"{res.infer_actors} inference actor(s) with {res.gpus_per_infer:g} GPU each"
                if res.infer_actors else "inference inside the CPU workers")
        say(f"Ray: {res.nodes} node(s), {res.cluster_cpus} CPUs, {res.cluster_gpus} GPUs; "
            f"{res.workers} shard worker(s), {mode}")
        options = config.method_kwargs()
        token = uuid.uuid4().hex[:12]
        board = rt.start_board(token)
        actors.append(board)
        infer = [rt.start_infer_actor(res, config.method, options, run_token=token, index=k)
                 for k in range(res.infer_actors)]
        actors.extend(infer)
        if infer:
            rt.wait_ready(infer, what="inference actors", on_message=say)
        setup = WorkerSetup(dataset=config.dataset, root=str(config.root), split=config.split,
                            method=config.method, options=options)

        def new_worker(i: int):
            infer_name = rt.actor_name("infer", token, i % len(infer)) if infer else None
            return rt.start_shard_worker(setup, infer_name=infer_name, board_name=rt.actor_name("board", token))

        pool = [new_worker(i) for i in range(res.workers)]
        actors.extend(pool)
        rt.wait_ready(pool, what="shard workers", on_message=say)
        summary.ray_start_seconds = time.perf_counter() - t_connect
        _loop(plan, todo, paths, failures, summary, Cluster(pool, new_worker, board, actors), say=say,
              on_progress=on_progress, progress_every=progress_every)
    finally:
        t_stop = time.perf_counter()
        if not started_ray:  # a shared Ray (tests, notebooks): free what we took
            for actor in actors:
                rt.kill(actor)
        rt.disconnect(started_ray)
        summary.ray_stop_seconds = time.perf_counter() - t_stop


@dataclass
class Cluster:
    """The actors a run drives: shard workers (``pool``, replaced when lost), the progress board, and
    every actor started (freed at the end on a shared Ray)."""

    pool: list
    new_worker: Callable[[int], Any]
    board: Any
    actors: list


def _loop(plan: list[ShardSpec], todo: list[ShardSpec], paths: RunPaths, failures: FailureLog,
          summary: AnnotateSummary, cluster: Cluster, *, say: Callable[[str], None],
          on_progress: Callable[[ProgressSnapshot], None], progress_every: float) -> None:
    """Keep every worker busy until ``todo`` is committed or failed; commit each shard as it returns."""
    rows_of = {s.shard_id: s.rows for s in plan}
    committed = {s.shard_id for s in plan} - {s.shard_id for s in todo}
    seqs_done = sum(len(s.sequences) for s in plan if s.shard_id in committed)
    pool = cluster.pool
    scheduler = ShardScheduler(todo, len(pool), per_worker=rt.OPTIONS.shards_per_worker,
                               max_attempts=MAX_SHARD_ATTEMPTS)
    t0 = time.perf_counter()
    session_rows = 0
    last_emit = 0.0
    partial: dict[str, int] = {}
    board_ref = None

    def emit(force_now: bool = False) -> None:
        nonlocal last_emit
        now = time.perf_counter()
        if not force_now and now - last_emit < progress_every:
            return
        last_emit = now
        running = sum(v for k, v in partial.items() if k not in committed)
        on_progress(ProgressSnapshot(
            shards_total=len(plan), shards_done=len(committed), shards_failed=len(summary.failed_shards),
            sequences_total=sum(len(s.sequences) for s in plan), sequences_done=seqs_done,
            frames_total=summary.frames_total, frames_done=sum(rows_of[k] for k in committed) + running,
            frames_session=session_rows + running,
            failures=len({f.sequence for f in standing_failures(failures.entries, committed)}),
            elapsed=now - t0))

    emit(force_now=True)
    while scheduler.busy:
        scheduler.assign(pool, lambda worker, spec: worker.run.remote(spec))
        ready, _ = rt.wait_any(list(scheduler.in_flight), timeout=progress_every)
        for ref in ready:
            entry = scheduler.finished(ref)
            spec = entry.spec
            try:
                result = rt.fetch(ref)
            except Exception as exc:  # noqa: BLE001 - every failure is recorded or retried below
                lost = rt.is_lost_actor(exc) or isinstance(exc, InfrastructureError)
                if lost and scheduler.retry(spec):
                    say(f"shard {spec.shard_id}: worker lost ({_first_line(exc)}); retrying")
                    if pool[entry.worker] is entry.actor and rt.is_lost_actor(exc):
                        pool[entry.worker] = cluster.new_worker(entry.worker)
                        cluster.actors.append(pool[entry.worker])
                    continue
                summary.failed_shards.append(spec.shard_id)
                failures.record(Failure(spec.shard_id, sid, "worker", _first_line(exc)) for sid in spec.sequence_ids)
                say(f"shard {spec.shard_id} failed: {_first_line(exc)} (re-run to retry it)")
                continue
            commit_shard(paths, failures, shard_id=spec.shard_id, rows=result.rows,
                         sequence_failures=result.failures,
                         stats={**result.stats.to_json(), "attempts": scheduler.attempt_number(spec)})
            cluster.board.forget.remote(spec.shard_id)
            committed.add(spec.shard_id)
            seqs_done += len(spec.sequences)
            session_rows += spec.rows
            summary.shards_committed += 1
            summary.rows_written += len(result.rows)
            summary.nodes.add(result.stats.node_id or "?")
            for failure in result.failures:
                say(f"{failure.sequence}: failed at {failure.stage}: {failure.error}")
        if board_ref is None:
            board_ref = cluster.board.snapshot.remote()
        else:
            done, _ = rt.wait_any([board_ref], timeout=0)
            if done:
                try:
                    partial = rt.fetch(board_ref)
                except Exception:  # noqa: BLE001 - progress is best effort
                    partial = {}
                board_ref = None
        emit()
    summary.work_seconds = time.perf_counter() - t0
    emit(force_now=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    lines = [ln for ln in text if ln.strip()]
    # Ray wraps task errors in a traceback; the last line holds the original error.
    return (lines[-1] if lines else type(exc).__name__)[:500]
