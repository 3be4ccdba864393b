"""The stages of annotate as plain classes: no Ray here, so tests call them directly.

* :class:`InferStage` holds a method for the heavy ``infer`` verb (the GPU actor
  wraps one; CPU workers hold one in-process).  It loads the model once and
  moves it to ``cuda`` when torch sees a GPU in *this* process.
* :class:`ShardStage` is the CPU side of one shard: read (load the sequence),
  decode + crop (``prepare``), motion (only when the method asks for it),
  inference (local, or sent to an inference actor), paste back (``finalize``) and
  encode (:func:`box2mask.shards.track_rows`: RLE + QA).  A sequence is streamed
  window by window with at most ``lookahead`` windows waiting for inference, so
  memory does not grow with the length of the video.

A sequence that fails at any stage is left out of the shard and reported as a
failure (sequence, stage, error); the rest of the shard goes on.  Failures of
the infrastructure (:class:`InfrastructureError`) are not the sequence's fault:
they fail the whole shard so that it is retried instead of being committed
without that sequence.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from box2mask.datasets import open_dataset
from box2mask.methods import FrameMask, get_method
from box2mask.methods.base import visible_targets, windows
from box2mask.shards import track_rows
from box2mask.structures import Sequence, Track
from pipelines.annotate.plan import SequenceWork, ShardSpec
from pipelines.annotate.records import Failure, ShardStats

STAGES = ("load", "prepare", "motion", "infer", "finalize", "encode")


class StageError(Exception):
    """A sequence failed at ``stage``; ``__cause__`` is the original exception."""

    def __init__(self, stage: str, error: BaseException):
        super().__init__(f"{stage}: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error


class InfrastructureError(Exception):
    """A worker, actor or object was lost: retry the shard, do not blame the sequence."""


def build_method(name: str, options: dict[str, Any], *, device: str | None = None):
    """``get_method(name, **options)`` placed on ``device`` (default ``"auto"``: the best one here).

    Every method has ``to(device)``; GrabCut and filled-box hold no model, ignore it
    and never import torch.
    """
    return get_method(name, **options).to(device or "auto")


class InferStage:
    """The ``infer`` verb of a method, made reproducible.

    OpenCV's random generator (GrabCut seeds its colour models with k-means) is
    reset before every batch, so a batch gives the same masks whichever process
    runs it and whatever ran there before: retries and any number of workers
    write identical rows.
    """

    def __init__(self, method_name: str, options: dict[str, Any] | None = None, *, method=None,
                 device: str | None = None):
        self.method = method if method is not None else build_method(method_name, dict(options or {}),
                                                                     device=device)

    def __call__(self, batch: dict) -> dict:
        import cv2

        cv2.setRNGSeed(0)
        return self.method.infer(batch)


class Inferer(Protocol):
    """Where prepared batches go: ``get(submit(batch))`` is the inferred batch."""

    lookahead: int

    def submit(self, batch: dict) -> Any: ...

    def get(self, handle: Any) -> dict: ...


class LocalInfer:
    """Inference in the calling process (CPU workers): no copy, no queue."""

    lookahead = 0

    def __init__(self, stage: InferStage):
        self.stage = stage

    def submit(self, batch: dict) -> dict:
        return self.stage(batch)

    def get(self, handle: dict) -> dict:
        return handle


@dataclass
class Timings:
    """Seconds spent per stage (``infer`` in remote mode is the wait for the actor)."""

    seconds: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})

    def add(self, stage: str, dt: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + dt


@dataclass
class ShardResult:
    """A shard's rows (``box2mask.shards.SCHEMA`` dicts), its failed sequences and its stats."""

    shard_id: str
    rows: list[dict]
    failures: list[Failure]
    stats: ShardStats


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class WorkerSetup:
    """What every shard worker of a run is built from (sent to each worker once)."""

    dataset: str
    root: str
    split: str | None
    method: str
    options: dict[str, Any] = field(default_factory=dict)


class ShardStage:
    """Runs shards (see the module docstring); built once per worker process."""

    @classmethod
    def from_setup(cls, setup: WorkerSetup, *, infer: "Inferer | None" = None) -> "ShardStage":
        return cls(dataset=setup.dataset, root=setup.root, split=setup.split, method=setup.method,
                   options=setup.options, infer=infer)

    def __init__(self, *, dataset: str, root: Path | str, split: str | None, method: str,
                 options: dict[str, Any] | None = None, infer: Inferer | None = None):
        self.root = Path(root)
        self.reader = open_dataset(dataset, self.root, split=split)
        # Inference in this CPU worker stays on the CPU: the worker reserved no GPU, even if it sees one.
        local = InferStage(method, options, device="cpu") if infer is None else None
        # prepare/finalize need the method object too; when inference is local it is the same one.
        self.method = local.method if local is not None else get_method(method, **dict(options or {}))
        self.infer: Inferer = infer if infer is not None else LocalInfer(local)
        self.window = int(self.method.window)
        self.needs_motion = bool(self.method.needs_motion)

    # -- one shard ---------------------------------------------------------------------------
    def run(self, spec: ShardSpec, *, on_rows: Callable[[int], None] | None = None) -> ShardResult:
        """All rows of ``spec``; ``on_rows(n)`` reports rows finished so far in this shard."""
        started, t0, cpu0 = time.time(), time.perf_counter(), time.process_time()
        timings = Timings()
        rows: list[dict] = []
        failures: list[Failure] = []
        done = 0
        for work in spec.sequences:
            try:
                rows.extend(self.sequence_rows(work, spec.shard_id, timings,
                                               on_rows=None if on_rows is None else (lambda n: on_rows(done + n))))
            except InfrastructureError:
                raise
            except StageError as exc:
                failures.append(Failure(spec.shard_id, work.id, exc.stage, _error_text(exc.error)))
            except Exception as exc:  # a bug in the encode/QA path: still one sequence's problem
                failures.append(Failure(spec.shard_id, work.id, "encode", _error_text(exc),
                                        traceback.format_exc(limit=4)))
            done += work.rows
            if on_rows is not None:
                on_rows(done)
        stats = ShardStats(
            shard=spec.shard_id, sequences=len(spec.sequences), rows=len(rows), planned_rows=spec.rows,
            failed_sequences=len(failures), started=started, finished=time.time(),
            seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - cpu0,
            stage_seconds={k: round(v, 6) for k, v in timings.seconds.items()},
            host=socket.gethostname(), pid=os.getpid())
        return ShardResult(spec.shard_id, rows, failures, stats)

    # -- one sequence ------------------------------------------------------------------------
    def load(self, work: SequenceWork) -> Sequence:
        """The sequence as the manifest planned it; a changed dataset is an error, not a surprise."""
        sequence = self.reader.load(work.id)
        if len(sequence) != work.num_frames or len(sequence.tracks) != work.num_tracks:
            raise ValueError(f"sequence {work.id!r} changed since the scan: {len(sequence)} frames and "
                             f"{len(sequence.tracks)} tracks now, {work.num_frames} and {work.num_tracks} in "
                             "the manifest (start a new run folder)")
        return sequence.with_sampling(np.asarray(work.sampled, dtype=np.int64))

    def sequence_rows(self, work: SequenceWork, shard_id: str, timings: Timings,
                      on_rows: Callable[[int], None] | None = None) -> list[dict]:
        t = time.perf_counter()
        try:
            sequence = self.load(work)
        except Exception as exc:
            raise StageError("load", exc) from exc
        timings.add("load", time.perf_counter() - t)
        rows: list[dict] = []
        for track in sequence.tracks:
            motion: dict[int, np.ndarray] = {}
            t = time.perf_counter()
            inner = Timings()
            results = self.track_masks(sequence, track, sequence.sampled, inner, motion,
                                       on_frames=None if on_rows is None else (lambda n: on_rows(len(rows) + n)))
            try:
                # ``motion`` fills up as windows are prepared, always ahead of the frame being encoded.
                track_out = track_rows(sequence, track, results, shard=shard_id, root=self.root,
                                       homographies=motion if self.needs_motion else None)
            except StageError:
                raise
            except InfrastructureError:
                raise
            except Exception as exc:
                raise StageError("encode", exc) from exc
            total = time.perf_counter() - t
            for stage, seconds in inner.seconds.items():
                timings.add(stage, seconds)
            timings.add("encode", total - sum(inner.seconds.values()))
            rows.extend(track_out)
        return rows

    def track_masks(self, sequence: Sequence, track: Track, targets: np.ndarray, timings: Timings,
                    motion: dict[int, np.ndarray], on_frames: Callable[[int], None] | None = None
                    ) -> Iterator[FrameMask]:
        """Masks for ``targets`` in frame order, streamed window by window.

        At most ``infer.lookahead`` windows wait for inference while the next is
        prepared, so the memory held is a few windows whatever the video's length.
        """
        pending: deque[tuple[np.ndarray, Any]] = deque()
        done = 0
        for chunk in windows(np.asarray(targets, dtype=np.int64), self.window):
            visible, _ = visible_targets(track, chunk)
            handle = self._submit(sequence, track, visible, timings, motion) if visible.size else None
            pending.append((chunk, handle))
            while len(pending) > self.infer.lookahead:
                chunk_done, handle_done = pending.popleft()
                yield from self._collect(track, chunk_done, handle_done, timings)
                done += len(chunk_done)
                if on_frames is not None:
                    on_frames(done)
        while pending:
            chunk_done, handle_done = pending.popleft()
            yield from self._collect(track, chunk_done, handle_done, timings)
            done += len(chunk_done)
            if on_frames is not None:
                on_frames(done)

    def _submit(self, sequence: Sequence, track: Track, visible: np.ndarray, timings: Timings,
                motion: dict[int, np.ndarray]) -> Any:
        batch = self._timed("prepare", timings, self.method.prepare, sequence, track, visible)
        if self.needs_motion:
            extra = self._timed("motion", timings, self.method.motion, sequence, track, visible)
            batch["motion"] = extra
            motion.update({int(f): np.asarray(h) for f, h in (extra or {}).get("homographies", {}).items()})
        return self._timed("infer", timings, self.infer.submit, batch)

    def _collect(self, track: Track, chunk: np.ndarray, handle: Any, timings: Timings) -> Iterator[FrameMask]:
        results: dict[int, FrameMask] = {}
        if handle is not None:
            batch = self._timed("infer", timings, self.infer.get, handle)
            masks = self._timed("finalize", timings, self.method.finalize, batch)
            results = {int(fm.frame): fm for fm in masks}
        for frame in chunk:
            yield results.get(int(frame), FrameMask(track.track_id, int(frame), None, float("nan")))

    @staticmethod
    def _timed(stage: str, timings: Timings, fn: Callable, *args):
        t = time.perf_counter()
        try:
            return fn(*args)
        except InfrastructureError:
            raise
        except Exception as exc:
            raise StageError(stage, exc) from exc
        finally:
            timings.add(stage, time.perf_counter() - t)
