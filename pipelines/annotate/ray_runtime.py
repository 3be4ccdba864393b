"""Everything Ray: connecting, sizing, the actors, and every Ray option in one place.

The Ray API around resources has changed several times; keeping each
``.options(...)`` here means one file to update.  Platform facts this module
relies on (Ray 2.60, measured):

* asking for a GPU on a cluster without one waits forever, so GPUs are requested
  only when ``ray.cluster_resources()`` has them; otherwise inference runs on
  CPU actors (with a warning);
* the device is picked *inside* the inference actor (``torch.cuda.is_available()``);
* ``include_dashboard=True`` needs ``ray[default]``: it is never passed.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import ray
from ray.exceptions import RayError, RayTaskError

from pipelines.annotate.plan import ShardSpec
from pipelines.annotate.stages import InferStage, InfrastructureError, ShardResult, ShardStage, WorkerSetup


@dataclass(frozen=True)
class RayOptions:
    """Every knob handed to Ray, with the reason for its value."""

    worker_cpus: float = 1.0            # one shard worker = one core of decode/crop/paste/encode
    infer_cpus: float = 0.0             # GPU actors mostly wait on the GPU; their feeders hold the cores
    max_restarts: int = 3               # a killed worker/actor process is restarted ...
    max_task_retries: int = 3           # ... and the shard (or batch) it was running is run again
    shards_per_worker: int = 2          # one running + one queued: no idle gap between shards
    lookahead: int = 2                  # windows waiting for a remote inference actor per feeder
    start_timeout_s: float = 300.0      # no worker placed in this time: the cluster cannot run us
    settle_s: float = 5.0               # wait this long for busy CPUs to free up before sizing
    progress_every_s: float = 0.5       # how often a worker reports partial progress


OPTIONS = RayOptions()


@dataclass(frozen=True)
class Resources:
    """How a run is laid out on the cluster (decided by :func:`plan_resources`)."""

    workers: int          # shard workers (CPU actors), each ``worker_cpus`` cores
    infer_actors: int     # separate inference actors; 0 = inference inside the shard workers
    gpus_per_infer: float  # 1 / --actors-per-gpu on a GPU cluster, else 0
    cluster_cpus: int
    cluster_gpus: int
    nodes: int


def connect(address: str | None, *, num_cpus: int | None = None, num_gpus: int | None = None) -> bool:
    """Join ``address`` or start a local Ray; returns whether this call started the connection.

    ``num_cpus`` / ``num_gpus`` size a local Ray started here (default: what Ray
    detects); they do not apply when joining a cluster.

    An already initialised Ray (a test fixture, a notebook) is used as is.  A
    ``host:port`` (or ``ray://host:port``) address, given or in ``RAY_ADDRESS``, is
    probed with a plain TCP connect first: Ray itself retries an unreachable GCS for
    minutes, the probe fails in seconds with a :class:`ConfigError` naming the
    address and what to check.
    """
    from pipelines.annotate.config import ConfigError

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "WARNING",
                              "configure_logging": True}
    # What Ray will dial: --address, else RAY_ADDRESS (ray.init reads it for None and "auto" alike).
    target = address
    if address in (None, "auto") and os.environ.get("RAY_ADDRESS"):
        target = os.environ["RAY_ADDRESS"]
    if target in (None, "local"):
        # A private single-job cluster on this machine: no token to set up or to warn about.
        # Joining a cluster (--address, RAY_ADDRESS) keeps whatever authentication that cluster uses.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        sizes = {k: v for k, v in (("num_cpus", num_cpus), ("num_gpus", num_gpus)) if v is not None}
        ray.init(address=address, **kwargs, **sizes)
        return True
    hostport = target.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    probe = target != "auto" and bool(sep and host) and port.isdigit()
    client = target.startswith("ray://")
    head = f"`ray start --head --port {port}` on {host}" if probe and not client else "`ray start --head`"
    kind = "the Ray client port, 10001 by default" if client else "the GCS port, 6379 by default"
    check = f"is a Ray head running there ({head})? Check the host, the port ({kind}) and that no firewall blocks it"
    shown = target if target == address else f"{target} (from RAY_ADDRESS)"
    if probe:
        try:
            socket.create_connection((host, int(port)), timeout=5.0).close()
        except socket.timeout:
            raise ConfigError(f"cannot reach a Ray cluster at {shown} (no answer in 5 s): {check}") from None
        except OSError as exc:
            reason = str(exc.strerror or exc).lower()
            raise ConfigError(f"cannot reach a Ray cluster at {shown} ({reason}): {check}") from None
    try:
        ray.init(address=address, **kwargs)
    except ConnectionError as exc:  # an OSError to Python, but nothing to do with files: say what it is
        if ray.is_initialized():
            ray.shutdown()
        raise ConfigError(f"cannot connect to a Ray cluster at {shown} ({' '.join(str(exc).split())}): "
                          f"{check}") from None
    return True


def disconnect(started: bool) -> None:
    if started and ray.is_initialized():
        ray.shutdown()


def plan_resources(*, gpus: int, workers: int | None, infer_actors: int | None = None, actors_per_gpu: int = 1,
                   warn: Callable[[str], None] = lambda text: None) -> Resources:
    """Size the run for the cluster we are on (what is free now), never asking for what it does not have.

    See :func:`size_resources` for the rules; this only asks Ray what the cluster has.
    """
    cluster, free = ray.cluster_resources(), ray.available_resources()
    deadline = time.monotonic() + OPTIONS.settle_s
    while free.get("CPU", 0) < cluster.get("CPU", 0) and time.monotonic() < deadline:
        time.sleep(0.2)  # actors of a run that just ended may still be releasing their CPUs
        free = ray.available_resources()
    # Size on what is free now: on a shared cluster another job may hold part of it, and an
    # actor that cannot be placed would only wait.
    cpus = int(min(cluster.get("CPU", 0), free.get("CPU", 0)))
    if cpus < 1:
        raise InfrastructureError(f"the Ray cluster has no free CPU to run shard workers on "
                                  f"({int(cluster.get('CPU', 0))} in all)")
    return size_resources(cpus=cpus, free_gpus=int(min(cluster.get("GPU", 0), free.get("GPU", 0))),
                          nodes=sum(1 for n in ray.nodes() if n.get("Alive")), gpus=gpus, workers=workers,
                          infer_actors=infer_actors, actors_per_gpu=actors_per_gpu, warn=warn)


def size_resources(*, cpus: int, free_gpus: int, nodes: int, gpus: int, workers: int | None,
                   infer_actors: int | None = None, actors_per_gpu: int = 1,
                   warn: Callable[[str], None] = lambda text: None) -> Resources:
    """The layout of a run on ``cpus`` free CPUs and ``free_gpus`` free GPUs.

    ``gpus``: GPUs for inference (0: CPU), each shared by ``actors_per_gpu`` inference
    actors (``num_gpus = 1 / actors_per_gpu``), so that one actor's host-side work
    (collating crops, copying, reading back) overlaps another's kernels.  ``workers``:
    CPU shard workers (default: every CPU in CPU mode; CPUs minus one per GPU
    otherwise).  ``infer_actors`` forces separate CPU inference actors (tests,
    profiling).  Asking for more GPUs than are free warns and uses what is free; none
    free means CPU inference (asking Ray for an absent GPU would wait forever).
    """
    if gpus > 0 and free_gpus == 0:
        warn(f"--gpus {gpus} asked, but the Ray cluster has no free GPU: running inference on CPU workers")
        gpus = 0
    elif gpus > free_gpus:
        warn(f"--gpus {gpus} asked, but the Ray cluster has {free_gpus} free: using {free_gpus}")
        gpus = free_gpus
    default = cpus if gpus == 0 else max(1, cpus - gpus)
    chosen = default if workers is None else workers
    if chosen > cpus:
        warn(f"--workers {chosen} asked, but the Ray cluster has {cpus} free CPUs: using {cpus}")
        chosen = cpus
    per_gpu = max(1, int(actors_per_gpu))
    actors = gpus * per_gpu if gpus > 0 else int(infer_actors or 0)
    return Resources(workers=max(1, chosen), infer_actors=actors, gpus_per_infer=1.0 / per_gpu if gpus > 0 else 0.0,
                     cluster_cpus=cpus, cluster_gpus=free_gpus, nodes=nodes)


# -- actors ------------------------------------------------------------------------------------

class ProgressBoard:
    """Rows finished so far in each running shard, for a live frames/s on the driver.

    Workers overwrite their shard's count (a retried shard starts again from 0),
    so a retry never counts twice.
    """

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}

    def report(self, shard_id: str, rows: int) -> None:
        self.rows[shard_id] = rows

    def forget(self, shard_id: str) -> None:
        self.rows.pop(shard_id, None)

    def snapshot(self) -> dict[str, int]:
        return dict(self.rows)


class InferWorker:
    """One inference actor (one GPU when there is one); the model is loaded once, here."""

    def __init__(self, method: str, options: dict[str, Any]):
        self.stage = InferStage(method, options)

    def ready(self) -> dict:
        return where()

    def infer(self, batch: dict) -> dict:
        return self.stage(batch)


class RemoteInfer:
    """An :class:`~pipelines.annotate.stages.Inferer` that sends batches to an inference actor."""

    def __init__(self, actor, lookahead: int):
        self.actor = actor
        self.lookahead = lookahead

    def submit(self, batch: dict):
        return self.actor.infer.remote(batch)

    def get(self, handle) -> dict:
        try:
            return ray.get(handle)
        except RayTaskError:
            raise  # the method itself failed on this batch: the sequence's failure
        except RayError as exc:
            raise InfrastructureError(f"inference actor lost: {exc}") from exc


class ShardWorker:
    """A CPU worker: runs whole shards (``ShardStage``) and returns their rows to the driver.

    The progress board and the inference actor are looked up by name rather than
    passed as handles: Ray cannot promise to restart an actor whose constructor
    arguments live in the object store (ray-project/ray#53727), and a restart
    after a lost worker is the point here.
    """

    def __init__(self, setup: WorkerSetup, infer_name: str | None, board_name: str) -> None:
        import cv2

        # One worker, one core, one thread (Ray sets OMP_NUM_THREADS=1 for torch): no oversubscription,
        # and the masks stay byte-identical whatever the worker count (a thread count changes float sums).
        cv2.setNumThreads(max(1, int(OPTIONS.worker_cpus)))
        infer = RemoteInfer(ray.get_actor(infer_name), OPTIONS.lookahead) if infer_name else None
        self.stage = ShardStage.from_setup(setup, infer=infer)
        self.board = ray.get_actor(board_name)

    def ready(self) -> dict:
        return where()

    def run(self, spec: ShardSpec) -> ShardResult:
        last = [0.0]

        def on_rows(rows: int) -> None:
            now = time.monotonic()
            if now - last[0] >= OPTIONS.progress_every_s:
                last[0] = now
                self.board.report.remote(spec.shard_id, rows)  # fire and forget

        self.board.report.remote(spec.shard_id, 0)
        result = self.stage.run(spec, on_rows=on_rows)
        place = where()
        result.stats = replace(result.stats, node_id=place["node_id"], host=place["host"], pid=place["pid"])
        return result


def where() -> dict:
    """Which node and process this is (recorded in shard stats)."""
    return {"node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "pid": os.getpid()}


@functools.cache
def _remote(cls):
    return ray.remote(cls)


def actor_name(role: str, run_token: str, index: int = 0) -> str:
    """Names of this run's actors (unique per run, so two runs on one cluster never meet)."""
    return f"box2mask-{run_token}-{role}-{index}"


def start_board(run_token: str):
    return _remote(ProgressBoard).options(num_cpus=0, name=actor_name("board", run_token)).remote()


def start_infer_actor(resources: Resources, method: str, options: dict[str, Any], *, run_token: str, index: int):
    return (_remote(InferWorker)
            .options(num_cpus=OPTIONS.infer_cpus, num_gpus=resources.gpus_per_infer,
                     max_restarts=OPTIONS.max_restarts, max_task_retries=OPTIONS.max_task_retries,
                     name=actor_name("infer", run_token, index))
            .remote(method, options))


def start_shard_worker(setup: WorkerSetup, *, infer_name: str | None, board_name: str):
    return (_remote(ShardWorker)
            .options(num_cpus=OPTIONS.worker_cpus, max_restarts=OPTIONS.max_restarts,
                     max_task_retries=OPTIONS.max_task_retries)
            .remote(setup, infer_name, board_name))


def wait_ready(actors: list, *, what: str, on_message: Callable[[str], None]) -> list[dict]:
    """Block until every actor answers (or one fails to start); returns their :func:`where`.

    A start that fails (bad weights path on a node, import error) is raised
    right away with its cause instead of surfacing later as lost shards.
    """
    refs = [a.ready.remote() for a in actors]
    deadline = time.monotonic() + OPTIONS.start_timeout_s
    answered: list[dict] = []
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=len(pending), timeout=10.0)
        for ref in done:
            try:
                answered.append(ray.get(ref))
            except RayError as exc:
                raise InfrastructureError(f"{what} could not start: {exc}") from exc
        if pending and time.monotonic() > deadline:
            raise InfrastructureError(f"{len(pending)} {what} not placed after {OPTIONS.start_timeout_s:.0f} s: "
                                      "does the cluster have the resources (ray status)?")
        if pending:
            on_message(f"waiting for {len(pending)} {what} to start")
    return answered


def is_lost_actor(exc: BaseException) -> bool:
    """True when the error means the worker process is gone for good (after Ray's restarts)."""
    return isinstance(exc, RayError) and not isinstance(exc, RayTaskError)


def fetch(ref, timeout: float | None = None):
    return ray.get(ref, timeout=timeout)


def wait_any(refs: list, timeout: float) -> tuple[list, list]:
    return ray.wait(refs, num_returns=1, timeout=timeout)


def kill(actor) -> None:
    try:
        ray.kill(actor, no_restart=True)
    except Exception:
        pass
