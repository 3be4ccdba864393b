"""Data-parallel training: the training job of :mod:`pipelines.train` on N workers through Ray Train.

``ray.train.torch.TorchTrainer`` starts N workers (gloo on CPU, NCCL on GPU); each
builds the same :class:`~box2mask.training.trainer.Trainer` as the single-process
job, with its network wrapped in ``DistributedDataParallel`` so that gradients are
averaged over the workers and every replica takes the same optimiser step.

* **Data:** each worker draws clips from its own share of the sequences (every
  worker-count-th sequence of each pool, in sorted id order; a pool with fewer
  sequences than workers is shared whole) with its own seed from
  ``(config.seed, rank)``.
* **One global batch:** ``config.batch`` clips per step in all, split over the
  workers (:func:`split_batch`), so the optimisation does not change with the
  worker count; each worker's loss is weighted by its share (``DataParallel.loss_scale``).
* **Checkpoints:** every ``checkpoint_every`` steps and at the end, rank 0 writes
  the single-process checkpoint plus every worker's sampler and torch random
  states (gathered), both to ``OUT/checkpoint.pt`` (so ``weights_from_checkpoint``
  and the single-process resume read the same file) and through
  ``ray.train.report`` into Ray Train's storage (``OUT/ray_train``, two kept).
* **Failures:** a worker that dies makes Ray Train restart the whole group
  (``FailureConfig.max_failures``); each new worker continues from the newest of
  Ray's last checkpoint and ``OUT/checkpoint.pt``. A killed driver is resumed by
  running the same command again, like the single-process job.
* **Logs:** rank 0 appends one JSON line per step to ``OUT/train_log.jsonl``, the
  loss terms averaged over the workers (weighted by their clips) with a
  ``workers`` field; the driver follows that file to report progress.

Ray stays in ``pipelines/``: the library (``box2mask/``) knows nothing of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
import torch.distributed as dist

from box2mask.atomic import atomic_path
from box2mask.errors import Box2MaskError
from box2mask.structures import Problem, Sequence
from box2mask.training.clips import ClipSampler
from box2mask.training.trainer import DataParallel, TrainConfig, Trainer, load_checkpoint
from pipelines.train import (DataSource, export_weights, starting_network, training_motion, training_teacher,
                             usable_pools)

if TYPE_CHECKING:
    from box2mask.model.inference import InferenceConfig

Pools = list[tuple[list[Sequence], float]]
StepHook = Callable[[int, int], None]   # (rank, iteration), called in every worker after every step

RAY_STORAGE = "ray_train"               # Ray Train's run folder under OUT
CHECKPOINT_FILE = "checkpoint.pt"       # its name in OUT and in every Ray checkpoint folder
CHECKPOINTS_KEPT = 2
MAX_FAILURES = 2                        # worker-group restarts before the run is given up
POLL_S = 0.5                            # how often the driver reads new log lines


# -- how the work is divided -------------------------------------------------------------------

def split_batch(batch: int, workers: int) -> tuple[int, ...]:
    """Each worker's clips per step: ``batch // workers``, one more for the first ``batch % workers``.

    The shares add up to ``batch`` whatever the worker count, so one step is one
    global batch. A worker without a clip would have nothing to average into DDP's
    gradient, so fewer clips than workers is refused.
    """
    if workers < 1:
        raise Box2MaskError(f"data-parallel training needs at least one worker (got {workers})")
    if batch < workers:
        raise Box2MaskError(f"--batch {batch} is the global batch (clips per step over all workers): it must be at "
                            f"least the worker count ({workers}); use --batch {workers} or fewer workers")
    return tuple(batch // workers + (1 if rank < batch % workers else 0) for rank in range(workers))


def shard_pools(pools: Pools, rank: int, workers: int) -> Pools:
    """Worker ``rank``'s sequences: every ``workers``-th of each pool in sorted id order.

    The order is sorted so that every worker (and a resumed run) computes the same
    shards without talking to the others. A pool with fewer sequences than workers
    is shared whole; the workers' different seeds keep their clips apart.
    """
    shards = []
    for seqs, weight in pools:
        ordered = sorted(seqs, key=lambda s: s.id)
        shards.append((ordered if len(ordered) < workers else ordered[rank::workers], weight))
    return shards


def rank_seed(seed: int, rank: int, iteration: int = 0) -> int:
    """A seed for worker ``rank`` of a run seeded ``seed``: distinct per rank, the same on every machine.

    ``iteration`` > 0 gives a new stream for a run resumed with another worker count,
    whose saved per-worker states no longer line up with the ranks.
    """
    words = [seed % (1 << 64), rank] + ([iteration] if iteration else [])  # SeedSequence takes no negative
    return int(np.random.SeedSequence(words).generate_state(1)[0])


# -- what travels to the workers ----------------------------------------------------------------

@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker needs, sent once (cloudpickled) through ``train_loop_config``.

    The pools are the driver's already validated sequences (paths and boxes, no pixels);
    motion and teacher sources are rebuilt in the worker from their folders.
    """

    pools: Pools
    out: Path
    config: TrainConfig
    motion_cache: Path | None
    live_motion_maps: bool
    teacher_runs: tuple[Path, ...]
    init_weights: Path | None
    resume: bool
    run_token: str          # marks the checkpoints of this call, to tell them from an older run's
    verify_every: int       # compare the replicas' weights every N steps (0: at checkpoints only)
    on_step: StepHook | None


@dataclass(frozen=True)
class Place:
    """Where a worker stands in its group: its rank and the group's size."""

    rank: int
    world: int


# -- the worker --------------------------------------------------------------------------------

def _ddp(device) -> Callable:
    """Wrap a network in DistributedDataParallel on ``device``.

    ``find_unused_parameters``: with ``object_path=False`` (the shipped wiring) or
    object dropout, the single-frame path gets no gradient, which DDP must be told of.
    """
    from torch.nn.parallel import DistributedDataParallel

    def wrap(net):
        return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None,
                                       find_unused_parameters=True)

    return wrap


def weights_digest(trainer: Trainer) -> str:
    """A short SHA-256 of the trainable parameters, in order: equal digests, equal replicas."""
    digest = hashlib.sha256()
    for _, param in trainer.net.named_parameters():
        if param.requires_grad:
            digest.update(param.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def merge_logs(logs: list[dict], weights: tuple[int, ...]) -> dict:
    """One log line for a step from every worker's: loss terms averaged, weighted by each worker's clips.

    Values every worker agrees on (iteration, learning rate, loss weights) are kept as
    they are; step times are the slowest worker's, since the step waits for it.
    """
    merged: dict[str, Any] = {}
    keys = list(dict.fromkeys(k for log in logs for k in log))
    for key in keys:
        present = [(log[key], w) for log, w in zip(logs, weights) if key in log]
        values = [v for v, _ in present]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if not numbers or all(v == values[0] for v in values):
            merged[key] = values[0]  # the same everywhere (or not a number to average: rank 0's)
        elif key in ("seconds", "data_seconds"):
            merged[key] = max(values)
        else:
            merged[key] = float(sum(v * w for v, w in present) / sum(w for _, w in present))
    return merged


def _gather(obj: Any, world: int) -> list:
    if world == 1:
        return [obj]
    found: list = [None] * world
    dist.all_gather_object(found, obj)
    return found


def _starting_state(job: WorkerJob, place: Place) -> dict | None:
    """The checkpoint this worker group continues from, chosen by rank 0 and sent to all.

    Candidates: Ray Train's latest checkpoint (set after a restart, or from the same
    OUT's earlier run) and ``OUT/checkpoint.pt`` (with ``resume``, or when written by
    this very call: Ray registers a report only once every worker's has reached the
    controller, so a worker lost right after a checkpoint may leave Ray one behind).
    The newest wins; rank 0 decides so that all workers start from the same state.
    """
    import ray.train

    state = None
    if place.rank == 0:
        candidates = []
        checkpoint = ray.train.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                candidates.append(load_checkpoint(Path(folder) / CHECKPOINT_FILE))
        path = job.out / CHECKPOINT_FILE
        if path.is_file():
            saved = load_checkpoint(path)
            if job.resume or saved.get("run_token") == job.run_token:
                candidates.append(saved)
        state = max(candidates, key=lambda s: int(s["iteration"]), default=None)
    if place.world > 1:
        box = [state]
        dist.broadcast_object_list(box, src=0)
        state = box[0]
    return state


def _restore(trainer: Trainer, state: dict, place: Place, job: WorkerJob) -> None:
    """Load ``state``; each worker takes back its own sampler and torch random state.

    With another worker count than the one that wrote the checkpoint, the shards
    differ and the saved states do not map onto the ranks: every worker then starts
    a fresh stream seeded by (seed, rank, iteration).
    """
    trainer.restore(state, "the checkpoint to resume from")
    samplers, rngs = state.get("samplers"), state.get("torch_rngs")
    if samplers is not None and rngs is not None and len(samplers) == place.world:
        trainer.sampler.restore(samplers[place.rank])
        torch.set_rng_state(rngs[place.rank])
    else:
        seed = rank_seed(job.config.seed, place.rank, trainer.iteration)
        trainer.sampler.restore(np.random.default_rng(seed).bit_generator.state)
        torch.manual_seed(seed)


def _checkpoint(trainer: Trainer, place: Place, job: WorkerJob, metrics: dict) -> None:
    """Rank 0 writes the checkpoint (all workers' random states in it) to OUT and to Ray; all report."""
    import ray.train

    parts = _gather((trainer.sampler.state(), torch.get_rng_state()), place.world)
    if place.rank != 0:
        ray.train.report(metrics)
        return
    state = trainer.checkpoint_state()
    state.update(samplers=[p[0] for p in parts], torch_rngs=[p[1] for p in parts], workers=place.world,
                 run_token=job.run_token)
    with tempfile.TemporaryDirectory(prefix="box2mask-ckpt-", ignore_cleanup_errors=True) as folder:
        file = Path(folder) / CHECKPOINT_FILE
        torch.save(state, file)
        # OUT first: Ray's copy is registered later, so OUT/checkpoint.pt is never the older one
        with atomic_path(job.out / CHECKPOINT_FILE) as tmp:
            shutil.copyfile(file, tmp)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder),
                         checkpoint_dir_name=checkpoint_folder_name(trainer.iteration))


def checkpoint_folder_name(iteration: int) -> str:
    """Ray Train's folder for the checkpoint of ``iteration``: named by step, so a listing reads in order.

    A run resumes after its newest registered checkpoint, so a later report never
    reuses the name of a registered one; it may reuse that of an orphan (below).
    """
    return f"checkpoint_{iteration:08d}"


def worker_loop(loop_config: dict) -> None:
    """One Ray Train worker: build the trainer over this rank's share, resume, train, checkpoint."""
    import ray.train
    import ray.train.torch

    job: WorkerJob = loop_config["job"]
    context = ray.train.get_context()
    place = Place(context.get_world_rank(), context.get_world_size())
    config = job.config
    shares = split_batch(config.batch, place.world)
    seed = rank_seed(config.seed, place.rank)
    config, motion = training_motion(config, job.motion_cache, job.live_motion_maps)
    teacher = training_teacher(config, list(job.teacher_runs))
    sampler = ClipSampler(shard_pools(job.pools, place.rank, place.world), config.clip, motion=motion,
                          teacher=teacher, seed=seed)
    device = ray.train.torch.get_device()
    parallel = DataParallel(wrap=_ddp(device), batch=shares[place.rank],
                            loss_scale=shares[place.rank] * place.world / config.batch)
    # the Trainer seeds torch with config.seed: every replica starts from the same weights
    trainer = Trainer(config, sampler, job.out, device=device, network=starting_network(config, job.init_weights),
                      parallel=parallel)
    torch.manual_seed(seed)  # ... and each then draws its own dropout
    state = _starting_state(job, place)
    if state is not None:
        _restore(trainer, state, place, job)
    log_file = open(trainer.log_path, "a", encoding="utf-8") if place.rank == 0 else None
    try:
        while trainer.iteration < config.iterations:
            log = trainer.step()
            it = trainer.iteration
            at_checkpoint = it % config.checkpoint_every == 0 or it == config.iterations
            verify = at_checkpoint or (job.verify_every > 0 and it % job.verify_every == 0)
            if verify:
                log["weights_digest"] = weights_digest(trainer)
            logs = _gather(log, place.world)
            if log_file is not None:
                merged = merge_logs(logs, shares)
                merged["workers"] = place.world
                if verify:
                    digests = [entry["weights_digest"] for entry in logs]
                    merged.update(weights_digest=digests[0], replica_digests=digests,
                                  replicas_agree=len(set(digests)) == 1)
                log_file.write(json.dumps(merged) + "\n")
                log_file.flush()
            if at_checkpoint:
                _checkpoint(trainer, place, job, {"iteration": it, "total": float(log["total"])})
            if job.on_step is not None:
                job.on_step(place.rank, it)
    finally:
        if log_file is not None:
            log_file.close()


# -- the driver --------------------------------------------------------------------------------

def connect_ray(address: str | None, *, workers: int, use_gpu: bool) -> bool:
    """Join ``address`` or start a local Ray sized for ``workers``; returns whether this call connected.

    The annotate pipeline's :func:`~pipelines.annotate.ray_runtime.connect` (an initialised
    Ray is used as is; a cluster address is probed first and fails in seconds). A local
    Ray must declare at least ``workers`` CPUs (each worker holds one: a smaller count
    would leave the group waiting forever) and no GPU when none is asked for.
    """
    from pipelines.annotate.ray_runtime import connect

    return connect(address or None, num_cpus=max(workers, os.cpu_count() or 1), num_gpus=None if use_gpu else 0)


def check_cluster(workers: int, use_gpu: bool) -> None:
    """Refuse a group the cluster cannot place (Ray would wait for it forever)."""
    import ray

    resources = ray.cluster_resources()
    cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
    if use_gpu and gpus < workers:
        found = "no GPU" if gpus == 0 else f"{gpus:g} GPUs"
        raise Box2MaskError(f"--gpus {workers}: the Ray cluster has {found}; ask for at most {int(gpus)} "
                            "GPU workers, or train on CPU workers (--workers N)")
    if cpus < workers:
        raise Box2MaskError(f"{workers} workers need {workers} CPUs (one each), but the Ray cluster has {cpus:g}")


class LogFollower:
    """The log lines rank 0 appends to ``train_log.jsonl``, read by the driver as they come.

    Starts at the file's current end, so an earlier session's lines are not replayed;
    a line still being written (no newline yet) waits for the next read.
    """

    def __init__(self, path: Path):
        self.path = path
        self.offset = path.stat().st_size if path.is_file() else 0
        self.partial = b""

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]


def _fit(trainer_factory: Callable[[], Any], log_path: Path, on_log: Callable[[dict], None] | None):
    """Run ``fit()`` in a thread while this one hands new log lines to ``on_log``.

    In a thread, Ray Train leaves the process's Ctrl-C handling alone (it installs
    its own SIGINT handler when fit runs on the main thread), and the callback runs
    on the caller's thread, where progress bars live.
    """
    follower = LogFollower(log_path)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = trainer_factory().fit()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="box2mask-train-fit", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(POLL_S)
        for log in follower.read():
            if on_log:
                on_log(log)
    for log in follower.read():
        if on_log:
            on_log(log)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def prune_unregistered(storage: Path, result) -> list[Path]:
    """Remove checkpoint folders Ray Train uploaded but never registered; returns them.

    Ray registers a report once every worker's has reached its controller: a
    checkpoint uploaded by rank 0 just before another worker died is left behind,
    outside ``num_to_keep``'s count. After a finished run only the registered
    checkpoints are kept.
    """
    registered = {Path(c.path).name for c, _ in result.best_checkpoints or []}
    if result.checkpoint is not None:
        registered.add(Path(result.checkpoint.path).name)
    removed = []
    for folder in sorted(storage.glob("checkpoint_*")):
        if folder.is_dir() and folder.name not in registered:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _final_state(result, out: Path) -> dict:
    """The last checkpoint: the newer of Ray's result and OUT/checkpoint.pt (they agree after a clean end)."""
    if result.checkpoint is not None:
        with result.checkpoint.as_directory() as folder:
            path = Path(folder) / CHECKPOINT_FILE
            if path.is_file():
                state = load_checkpoint(path)
                file = out / CHECKPOINT_FILE
                if file.is_file():
                    other = load_checkpoint(file)
                    if int(other["iteration"]) > int(state["iteration"]):
                        return other
                return state
    return load_checkpoint(out / CHECKPOINT_FILE)


def _run_group(make_trainer: Callable[[], Any], log_path: Path, out: Path, *, address: str | None, workers: int,
               use_gpu: bool, max_failures: int, on_log: Callable[[dict], None] | None) -> dict:
    """Connect, run the worker group to the end, and return the last checkpoint's content."""
    import ray
    import ray.train

    started = connect_ray(address, workers=workers, use_gpu=use_gpu)
    try:
        check_cluster(workers, use_gpu)
        try:
            result = _fit(make_trainer, log_path, on_log)
        except ray.train.TrainingFailedError as exc:
            text = " ".join(str(exc).split())
            raise Box2MaskError(f"distributed training failed (the worker group was restarted up to "
                                f"{max_failures} times): {text[:1500]}") from exc
        prune_unregistered(out / RAY_STORAGE, result)
        return _final_state(result, out)
    finally:
        if started:
            ray.shutdown()


def train_distributed(sources: list[DataSource], out: Path | str, config: TrainConfig, *, workers: int,
                      use_gpu: bool = False, address: str | None = None, motion_cache: Path | None = None,
                      teacher_runs: list[Path] | None = None, live_motion_maps: bool = True, resume: bool = True,
                      init_weights: Path | None = None, export_path: Path | str | None = None,
                      inference: InferenceConfig | None = None, extra: dict | None = None,
                      max_failures: int = MAX_FAILURES, verify_every: int = 0,
                      on_log: Callable[[dict], None] | None = None,
                      on_problem: Callable[[Problem], None] | None = None,
                      on_start: Callable[[Trainer], None] | None = None,
                      on_step: StepHook | None = None) -> Trainer:
    """Run (or resume) a training job on ``workers`` data-parallel Ray Train workers.

    The inputs are those of :func:`pipelines.train.train` (``device`` aside: CPU
    workers, or one GPU each with ``use_gpu``). Returns a trainer on the driver
    holding the final state (rank 0's last checkpoint), as ``train`` does, and
    writes the weights to ``export_path`` when given (:func:`~pipelines.train.export_weights`
    with ``inference`` and ``extra``). ``verify_every`` > 0 also
    compares the replicas' weights every that many steps (always at checkpoints);
    the log records the digests. ``on_step(rank, iteration)`` is called in every
    worker after every step (it is cloudpickled to them).
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    split_batch(config.batch, workers)  # refuse before anything starts
    out = Path(out).resolve()  # Ray Train moves each worker into its own folder: no relative path survives
    sources = [replace(s, root=Path(s.root).resolve()) for s in sources]
    pools = usable_pools(sources, on_problem=on_problem)
    config, _ = training_motion(config, motion_cache, live_motion_maps)
    training_teacher(config, teacher_runs)  # a teacher folder that cannot teach fails here, not in N workers
    # The driver's trainer checks the start (weights, checkpoint) before any worker exists, and holds the
    # final state at the end for the weights file.
    trainer = Trainer(config, ClipSampler(pools, config.clip, seed=config.seed), out, device="cpu",
                      network=starting_network(config, init_weights))
    out.mkdir(parents=True, exist_ok=True)
    if resume:
        trainer.resume()
    else:
        shutil.rmtree(out / RAY_STORAGE, ignore_errors=True)  # Ray Train would continue its stored run
    if on_start:
        on_start(trainer)
    job = WorkerJob(pools=pools, out=out, config=config,
                    motion_cache=Path(motion_cache).resolve() if motion_cache else None,
                    live_motion_maps=live_motion_maps,
                    teacher_runs=tuple(Path(t).resolve() for t in teacher_runs or ()),
                    init_weights=Path(init_weights).resolve() if init_weights else None, resume=resume,
                    run_token=uuid.uuid4().hex, verify_every=verify_every, on_step=on_step)

    def make_trainer() -> TorchTrainer:
        return TorchTrainer(
            worker_loop, train_loop_config={"job": job},
            torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu, resources_per_worker={"CPU": 1}),
            run_config=RunConfig(storage_path=str(out), name=RAY_STORAGE,
                                 failure_config=FailureConfig(max_failures=max_failures),
                                 checkpoint_config=CheckpointConfig(num_to_keep=CHECKPOINTS_KEPT)))

    if trainer.iteration < config.iterations:
        trainer.restore(_run_group(make_trainer, trainer.log_path, out, address=address, workers=workers,
                                   use_gpu=use_gpu, max_failures=max_failures, on_log=on_log),
                        out / CHECKPOINT_FILE)
    if export_path is not None:
        export_weights(trainer, export_path, sources=sources, inference=inference, teacher_runs=teacher_runs,
                       extra={"device": "cuda" if use_gpu else "cpu", "workers": workers, **(extra or {})})
    return trainer
