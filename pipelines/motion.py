"""Motion job: a dataset -> one 8-bit PNG motion map per frame, resumable, failure-isolated.

Layout of ``out``::

    motion.json                     the configuration the maps were made with
    <sequence>/<frame stem>.png     round(255 * map), processing resolution
    <sequence>/side-by-side/<frame stem>.jpg   frame | map previews (optional)
    <sequence>/diagnostics.json     written last: marks the sequence complete
    failures.json                   sequences that failed in the latest run, with reasons

Every file is written atomically (temporary name + rename); the PNGs of a
sequence are fsync'ed together just before its ``diagnostics.json``, one
journal commit per sequence instead of one per frame.  A re-run skips sequences whose
``diagnostics.json`` matches the request and, inside unfinished sequences,
frames whose PNG exists complete (a map needs only its neighbours, so any
subset of frames can be computed).  A sequence that cannot be read or decoded is reported
with its name and the reason, and the others go on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from box2mask.atomic import atomic_write_json
from box2mask.datasets import open_dataset
from box2mask.datasets.sampling import sample_indices
from box2mask.errors import Box2MaskError
from box2mask.frames import read_rgb
from box2mask.motion.config import MotionConfig
from box2mask.datasets.entries import check_entry_name
from box2mask.motion.output import flush_to_disk, is_complete_png, side_by_side, write_jpeg, write_map_png
from box2mask.motion.stream import frame_boxes, motion_maps, processing_reduce
from box2mask.structures import Sequence

RUN_FILE = "motion.json"
MARKER = "diagnostics.json"
FAILURES = "failures.json"
PREVIEW_DIR = "side-by-side"


class MotionOutputError(Box2MaskError):
    """The output folder holds maps made differently (another configuration)."""


@dataclass
class SequenceResult:
    """What happened to one sequence: ``status`` is done, skipped (already complete) or failed."""

    id: str
    status: str
    written: int = 0
    reused: int = 0
    fallbacks: int = 0
    reason: str | None = None


@dataclass
class MotionSummary:
    results: list[SequenceResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def written(self) -> int:
        return sum(r.written for r in self.results)

    @property
    def failed(self) -> list[SequenceResult]:
        return [r for r in self.results if r.status == "failed"]


def select_frames(num_frames: int, *, every: int | None, max_frames: int | None) -> np.ndarray:
    """Frames to map: all of them unless ``every`` / ``max_frames`` (0 = no limit) are given."""
    if every is None and not max_frames:
        return np.arange(num_frames, dtype=np.int64)
    return sample_indices(num_frames, every=every or 1, max_frames=max_frames or None)


def check_out(out: Path, config: MotionConfig) -> None:
    """Record ``config`` in ``out/motion.json``, or refuse if ``out`` was made with another one."""
    path = out / RUN_FILE
    record = {"config": config.to_dict()}
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise MotionOutputError(f"{path} is unreadable ({exc}); remove it or choose another --out") from None
        if old.get("config") != record["config"]:
            raise MotionOutputError(
                f"{out} holds motion maps made with configuration {old.get('config', {}).get('name')!r} and other "
                f"settings; write to another --out (or delete it) to use {config.name!r}")
        return
    atomic_write_json(path, record)


def _request_key(config: MotionConfig, every: int | None, max_frames: int | None) -> dict:
    return {"config": config.name, "every": every, "max_frames": max_frames or None}


def is_complete(seq_dir: Path, key: dict, *, side_by_side: bool) -> bool:
    """True when ``seq_dir`` was finished for the same request (and has previews if asked)."""
    try:
        marker = json.loads((seq_dir / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("request") == key and (marker.get("side_by_side", False) or not side_by_side)


def process_sequence(sequence: Sequence, seq_dir: Path, *, config: MotionConfig, indices: np.ndarray,
                     key: dict, side_by_side_images: bool = False,
                     on_frame: Callable[[int, int], None] | None = None) -> SequenceResult:
    """Write the maps of ``indices`` that are not on disk yet, then the completion marker.

    ``on_frame(done, todo)`` is called after each map written.
    """
    def missing(i: int) -> bool:
        stem = sequence.frame_stem(i)
        return not is_complete_png(seq_dir / f"{stem}.png") or (
            side_by_side_images and not (seq_dir / PREVIEW_DIR / f"{stem}.jpg").is_file())

    todo = [int(i) for i in indices if missing(int(i))]
    reduce = processing_reduce(sequence.image_size, config.max_side)
    frames_log, fallbacks, size, written = [], 0, None, []
    for done, frame in enumerate(motion_maps(sequence, config=config, indices=todo), start=1):
        stem = sequence.frame_stem(frame.index)
        size = list(frame.map.shape)
        write_map_png(seq_dir / f"{stem}.png", frame.map)
        written.append(seq_dir / f"{stem}.png")
        if side_by_side_images:
            image = read_rgb(sequence.frames[frame.index], reduce=reduce)
            h, w = frame.map.shape
            scale = (sequence.width / w, sequence.height / h)
            preview = side_by_side(image, frame.map, frame.valid, frame_boxes(sequence, frame.index), box_scale=scale)
            write_jpeg(seq_dir / PREVIEW_DIR / f"{stem}.jpg", preview)
            written.append(seq_dir / PREVIEW_DIR / f"{stem}.jpg")
        diag = frame.diagnostics
        fallbacks += diag.fallback is not None
        reasons = [r.reason for r in (diag.prev, diag.next) if r is not None and r.fallback]
        frames_log.append({"index": frame.index, "stem": stem, "sides": diag.sides, "fallback": diag.fallback,
                           "reason": "; ".join(reasons) or None, "inliers": diag.inliers,
                           "reprojection_error": diag.as_dict()["reprojection_error"], "peak": round(diag.peak, 3)})
        if on_frame is not None:
            on_frame(done, len(todo))
    flush_to_disk(written)
    atomic_write_json(seq_dir / MARKER, {
        "sequence": sequence.id, "dataset": sequence.dataset, "request": key, "side_by_side": side_by_side_images,
        "frames": int(len(indices)), "computed": len(todo), "reused": int(len(indices) - len(todo)),
        "fallbacks": fallbacks, "map_size": size,
        "per_frame": frames_log,
    })
    return SequenceResult(sequence.id, "done", written=len(todo), reused=len(indices) - len(todo), fallbacks=fallbacks)


def map_sequence(reader, seq_id: str, out: Path, *, config: MotionConfig, key: dict, every: int | None,
                 max_frames: int | None, side_by_side_images: bool = False,
                 on_start: Callable[[str, int], None] | None = None,
                 on_frame: Callable[[str, int, int], None] | None = None) -> SequenceResult:
    """One sequence, start to finish; every failure is caught and returned with its reason."""
    bad_name = check_entry_name(seq_id)
    if bad_name:  # the id becomes a folder under OUT: never one outside it
        return SequenceResult(seq_id, "failed", reason=f"sequence name {seq_id!r} {bad_name}")
    seq_dir = out / seq_id
    if is_complete(seq_dir, key, side_by_side=side_by_side_images):
        return SequenceResult(seq_id, "skipped")
    try:
        sequence = reader.load(seq_id)
        indices = select_frames(len(sequence), every=every, max_frames=max_frames)
        if on_start is not None:
            on_start(seq_id, len(indices))
        frame_cb = (lambda done, todo: on_frame(seq_id, done, todo)) if on_frame is not None else None
        return process_sequence(sequence, seq_dir, config=config, indices=indices, key=key,
                                side_by_side_images=side_by_side_images, on_frame=frame_cb)
    except (Box2MaskError, OSError, ValueError, IndexError, cv2.error) as exc:
        return SequenceResult(seq_id, "failed", reason=f"{type(exc).__name__}: {exc}")


def _worker(dataset: str, root: str, split: str | None, seq_id: str, out: Path, config: MotionConfig, key: dict,
            every: int | None, max_frames: int | None, side_by_side_images: bool, threads: int) -> SequenceResult:
    """A sequence in a worker process (top level so that it can be pickled)."""
    cv2.setNumThreads(threads)
    try:
        reader = open_dataset(dataset, root, split=split)
    except Box2MaskError as exc:
        return SequenceResult(seq_id, "failed", reason=f"{type(exc).__name__}: {exc}")
    return map_sequence(reader, seq_id, out, config=config, key=key, every=every, max_frames=max_frames,
                        side_by_side_images=side_by_side_images)


def run_motion(dataset: str, root: Path | str, out: Path | str, *, config: MotionConfig,
               split: str | None = None, ids: list[str] | None = None, every: int | None = None,
               max_frames: int | None = None, side_by_side_images: bool = False, threads: int = 1,
               workers: int = 1,
               on_total: Callable[[int], None] | None = None,
               on_start: Callable[[str, int], None] | None = None,
               on_frame: Callable[[str, int, int], None] | None = None,
               on_sequence: Callable[[SequenceResult], None] | None = None) -> MotionSummary:
    """Write motion maps for the sequences of ``dataset`` at ``root`` into ``out``.

    Callbacks: ``on_total(n_sequences)``, ``on_start(id, frames_to_map)``,
    ``on_frame(id, done, todo)`` (these two only with ``workers=1``) and
    ``on_sequence(result)``.  ``threads`` is OpenCV's thread count per process
    (1: the stage scales over processes, one sequence each, not inside a frame).
    ``workers > 1`` maps that many sequences at once in separate processes.
    Raises :class:`~box2mask.errors.DatasetError` only when the dataset itself is unusable.
    """
    cv2.setNumThreads(threads)
    out = Path(out)
    reader = open_dataset(dataset, root, split=split)
    ids = reader.sequence_ids() if ids is None else list(ids)
    out.mkdir(parents=True, exist_ok=True)
    check_out(out, config)
    key = _request_key(config, every, max_frames)
    if on_total is not None:
        on_total(len(ids))
    results: dict[str, SequenceResult] = {}

    def finished(result: SequenceResult) -> None:
        results[result.id] = result
        if on_sequence is not None:
            on_sequence(result)

    if workers <= 1 or len(ids) <= 1:
        for seq_id in ids:
            finished(map_sequence(reader, seq_id, out, config=config, key=key, every=every, max_frames=max_frames,
                                  side_by_side_images=side_by_side_images, on_start=on_start, on_frame=on_frame))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        todo = [s for s in ids if check_entry_name(s) or not is_complete(out / s, key, side_by_side=side_by_side_images)]
        for seq_id in ids:
            if seq_id not in todo:
                finished(SequenceResult(seq_id, "skipped"))
        # spawn, not fork: the parent may hold threads (progress display) whose locks a fork would copy
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_worker, dataset, str(root), split, s, out, config, key, every, max_frames,
                                   side_by_side_images, threads): s for s in todo}
            for future in as_completed(futures):
                try:
                    finished(future.result())
                except Exception as exc:  # a worker that died (killed, out of memory): report, go on
                    finished(SequenceResult(futures[future], "failed", reason=f"worker died: {exc!r}"))
    summary = MotionSummary([results[s] for s in ids])
    atomic_write_json(out / FAILURES, [{"sequence": r.id, "reason": r.reason} for r in summary.failed])
    return summary
