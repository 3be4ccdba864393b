"""``annotate --adapt``: fine-tune the network on the boxes being annotated, then annotate with it.

The box losses need nothing but boxes, so the sequences a user is about to
annotate are training data for the network that annotates them. Before any mask
is written, the phase runs, each step resumable and never redone once finished::

    teacher   GrabCut masks of the same boxes          OUT/adapt/teacher/  (--adapt-teacher grabcut or blend)
              the starting network's own masks         OUT/adapt/teacher-network/  (network or blend)
    motion    motion maps for the affinity loss        OUT/adapt/motion/   (``box2mask motion``'s layout)
    train     fine-tune the starting weights           OUT/adapt/train/    (checkpoint.pt, train_log.jsonl)
    export    the adapted weights and their record     OUT/adapt/weights.pt, OUT/adapt/adapt.json

``OUT/adapt/state.json`` holds the phase and step for ``box2mask status``. A run
killed while training continues from the last checkpoint; a re-run whose
``adapt.json`` names the weights file it finds skips the whole phase. The adapt
settings are part of the run's fingerprint, so changing them on the same ``--out``
is refused like any other configuration change.

Only boxes are read: the teachers are GrabCut or the network on the same boxes, training refuses
layouts whose boxes come from masks (DAVIS), and the losses are those of
``box2mask train``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from box2mask.atomic import atomic_write_json, file_sha256
from box2mask.errors import Box2MaskError

# Default steps: 1.5 per mask row, within bounds (2,000 steps: about 33 min on 2 CPU cores). With the
# blended teacher, 600 steps on each fold's ~400 rows (1.5 per row) beat 200 on all three folds, from
# the Lite2 fold weights (docs/benchmarks.md, "Adapting on the fold videos"); with GrabCut's teacher
# alone more steps had lost on fold B. Beyond ~400 rows the rate per row is an extrapolation.
STEPS_PER_FRAME = 1.5
MIN_STEPS, MAX_STEPS = 200, 2000
MAX_TEACHER_FRAMES = 20_000  # GrabCut on at most this many frames (every k-th frame beyond)
MAX_CACHED_MOTION_FRAMES = 50_000  # above this, motion maps are computed when a clip needs them
LOSSES = {"teacher": 0.5, "pairwise": 0.4, "affinity": 0.3, "temporal": 0.3}  # the shipped recipe's weights
SUPPORT_DROPOUT = 0.3
# --adapt-teacher: which annotate runs of the same boxes teach (blend: both, averaged per pixel by
# box2mask.training.teacher.TeacherMasks, so the target is soft where they disagree)
TEACHER_RUNS = {"grabcut": ("grabcut",), "network": ("network",), "blend": ("grabcut", "network"), "none": ()}
TEACHERS = tuple(TEACHER_RUNS)
LEGACY_TEACHER = "grabcut"  # the only teacher before --adapt-teacher existed: a run.json without the key used it


@dataclass(frozen=True)
class AdaptConfig:
    """What ``--adapt`` does; part of the run's fingerprint."""

    steps: int | None = None     # None: scaled to the frames (:func:`default_steps`)
    teacher: str = "blend"       # which runs of the same boxes teach (TEACHER_RUNS); none: the box losses only
    lr: float = 3e-4             # the shipped recipe's fine-tuning rate
    batch: int = 4               # clips per step (global, whatever the worker count)
    seed: int = 0
    checkpoint_every: int = 50   # a run killed while training loses at most this many steps

    def __post_init__(self) -> None:
        if self.teacher not in TEACHERS:
            raise Box2MaskError(f"unknown --adapt-teacher {self.teacher!r}; choose from {', '.join(TEACHERS)}")

    def to_dict(self) -> dict:
        data = asdict(self)
        if data["teacher"] == LEGACY_TEACHER:  # what runs made before the option stored (no key): they resume
            del data["teacher"]
        return data


@dataclass(frozen=True)
class AdaptProgress:
    """One report of the adapt phase, for progress displays."""

    phase: str                   # teacher | motion | train | done
    step: int = 0
    steps: int = 0
    losses: tuple[tuple[str, float], ...] = ()
    steps_per_second: float = 0.0
    teacher: str = ""            # the teacher phase: which teacher run (grabcut | network)


@dataclass(frozen=True)
class AdaptResult:
    weights: Path
    weights_sha256: str
    base_weights_sha256: str
    steps: int
    frames: int
    seconds: dict[str, float]
    skipped: bool                # finished by an earlier run: nothing was trained now


def default_steps(frames: int) -> int:
    return int(min(MAX_STEPS, max(MIN_STEPS, round(frames * STEPS_PER_FRAME))))


def adapt_dir(out: Path) -> Path:
    return Path(out) / "adapt"


def teacher_dir(folder: Path, method: str) -> Path:
    """Where the adapt phase in ``folder`` keeps ``method``'s teacher run (GrabCut's in ``teacher/``, as before
    the other teachers existed, so older runs resume)."""
    return folder / ("teacher" if method == "grabcut" else f"teacher-{method}")


def read_state(out: Path) -> dict | None:
    """``OUT/adapt/state.json`` (phase, step, steps), or ``None`` for a run without ``--adapt``."""
    path = adapt_dir(out) / "state.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def check_adaptable(dataset: str, method: str) -> None:
    """``--adapt`` trains the network on the dataset's boxes: refuse what cannot be."""
    from pipelines.train import MASK_DATASETS

    if method != "network":
        raise Box2MaskError(f"--adapt fine-tunes the network; --method {method} has nothing to train")
    if dataset in MASK_DATASETS:
        raise Box2MaskError(f"--adapt trains on the dataset's boxes, and a {dataset} folder's boxes come from its "
                            "masks; give the boxes in a box-only layout (got10k, lasot or folder)")


def run_adapt(*, dataset: str, root: Path, split: str | None, sequences: list[str], frames: int, out: Path,
              base_weights: Path, config: AdaptConfig,
              run_teacher: Callable[[Path, int, str], None],
              gpus: int = 0, address: str | None = None,
              say: Callable[[str], None] = lambda text: None,
              on_progress: Callable[[AdaptProgress], None] = lambda p: None) -> AdaptResult:
    """Adapt ``base_weights`` to ``sequences`` (the run's valid sequences, ``frames`` mask rows in all).

    ``run_teacher(folder, every, method)`` writes ``method``'s masks (``grabcut``, or ``network``: the
    starting weights at their defaults) of the same sequences into ``folder``, every ``every``-th frame
    (the driver passes an annotate run, which resumes like any other).
    """
    folder = adapt_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    weights_path, record_path = folder / "weights.pt", folder / "adapt.json"
    base_sha = file_sha256(base_weights)
    steps = config.steps or default_steps(frames)
    done = _finished(record_path, weights_path, base_sha, steps)
    if done is not None:
        say(f"adapt: done earlier ({done.steps} steps); using {weights_path}")
        _state(folder, "done", steps, steps)
        return replace(done, skipped=True)
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    methods = TEACHER_RUNS[config.teacher]
    every = max(1, -(-frames // MAX_TEACHER_FRAMES))
    for method in methods:
        _state(folder, "teacher", 0, steps)
        on_progress(AdaptProgress("teacher", teacher=method))
        say(f"adapt 1/3: {method} teacher on {len(sequences)} sequence(s), every {every} frame(s) -> "
            f"{teacher_dir(folder, method)}")
        run_teacher(teacher_dir(folder, method), every, method)
    if not methods:
        say("adapt 1/3: no teacher (--adapt-teacher none): the box losses alone")
    seconds["teacher"] = time.perf_counter() - t

    t = time.perf_counter()
    motion_cache = None
    if frames <= MAX_CACHED_MOTION_FRAMES:
        _state(folder, "motion", 0, steps)
        on_progress(AdaptProgress("motion"))
        say(f"adapt 2/3: motion maps -> {folder / 'motion'}")
        motion_cache = _motion(dataset, root, split, sequences, folder / "motion", say)
    else:
        say("adapt 2/3: motion maps computed as training needs them (too many frames to cache)")
    seconds["motion"] = time.perf_counter() - t

    t = time.perf_counter()
    say(f"adapt 3/3: fine-tuning {base_weights.name} for {steps} steps -> {folder / 'train'}")
    trainer_iteration, train_config = _train(
        dataset=dataset, root=root, split=split, sequences=sequences, folder=folder, base_weights=base_weights,
        base_sha=base_sha, steps=steps, config=config, motion_cache=motion_cache, gpus=gpus, address=address,
        on_progress=on_progress, weights_path=weights_path)
    seconds["train"] = time.perf_counter() - t

    result = AdaptResult(weights=weights_path, weights_sha256=file_sha256(weights_path), base_weights_sha256=base_sha,
                         steps=trainer_iteration, frames=frames, seconds={k: round(v, 1) for k, v in seconds.items()},
                         skipped=False)
    atomic_write_json(record_path, {**asdict(result), "weights": str(weights_path), "sequences": len(sequences),
                                    "adapt": config.to_dict(), "train_config": train_config, "gpus": gpus,
                                    "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    _state(folder, "done", steps, steps)
    on_progress(AdaptProgress("done", steps, steps))
    return result


def _finished(record_path: Path, weights_path: Path, base_sha: str, steps: int) -> AdaptResult | None:
    """The earlier run's result when it finished with these weights and step count, else ``None``."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not weights_path.is_file() or record.get("base_weights_sha256") != base_sha
            or record.get("steps") != steps or record.get("weights_sha256") != file_sha256(weights_path)):
        return None
    return AdaptResult(weights=weights_path, weights_sha256=record["weights_sha256"], base_weights_sha256=base_sha,
                       steps=record["steps"], frames=record["frames"], seconds=record["seconds"], skipped=False)


def _state(folder: Path, phase: str, step: int, steps: int) -> None:
    atomic_write_json(folder / "state.json", {"phase": phase, "step": step, "steps": steps, "updated": time.time()})


def _motion(dataset: str, root: Path, split: str | None, sequences: list[str], out: Path,
            say: Callable[[str], None]) -> Path:
    from box2mask.motion import MotionConfig
    from pipelines.motion import run_motion

    summary = run_motion(dataset, root, out, config=MotionConfig(), split=split, ids=sequences, every=1, max_frames=0)
    failed = summary.failed
    if failed:
        say(f"adapt: no motion maps for {len(failed)} sequence(s) (e.g. {failed[0].id}): the affinity loss "
            "skips their clips")
    return out


def _train(*, dataset: str, root: Path, split: str | None, sequences: list[str], folder: Path, base_weights: Path,
           base_sha: str, steps: int, config: AdaptConfig, motion_cache: Path | None, gpus: int, address: str | None,
           on_progress: Callable[[AdaptProgress], None], weights_path: Path) -> tuple[int, dict]:
    """Fine-tune ``base_weights`` and write ``weights_path``; returns the steps trained and the configuration."""
    from box2mask.model.weights import inference_defaults
    from box2mask.training.trainer import LOGGED_LOSSES, TrainConfig
    from pipelines.train import DataSource, export_weights, network_for_training, train, training_loss_weights

    sources = [DataSource(dataset, Path(root), 1.0, split=split, sequences=tuple(sequences))]
    teacher_runs = [teacher_dir(folder, m) for m in TEACHER_RUNS[config.teacher]] or None
    taught = teacher_runs is not None
    overrides = LOSSES if taught else {k: v for k, v in LOSSES.items() if k != "teacher"}
    losses = training_loss_weights(steps, terms={"pairwise", "affinity", "temporal"}, overrides=overrides,
                                   taught=taught)
    train_config = TrainConfig(iterations=steps, batch=config.batch, lr=config.lr, seed=config.seed,
                               support_dropout=SUPPORT_DROPOUT, checkpoint_every=config.checkpoint_every, losses=losses,
                               network=network_for_training(base_weights))
    started = time.perf_counter()
    first: list[int] = []

    def logged(log: dict) -> None:
        step = int(log["iteration"])
        if not first:
            first.append(step - 1)
        rate = (step - first[0]) / max(time.perf_counter() - started, 1e-9)
        if step % 5 == 0 or step == steps:
            _state(folder, "train", step, steps)
        losses_now = tuple((k, float(log[k])) for k in (*LOGGED_LOSSES, "total") if k in log)
        on_progress(AdaptProgress("train", step, steps, losses_now, rate))

    _state(folder, "train", 0, steps)
    extra = {"adapted_from": {"weights": str(base_weights), "sha256": base_sha},
             "supervision_note": "adapted on the boxes of the run it annotates (box2mask annotate --adapt)"}
    inference = inference_defaults(base_weights)
    if gpus > 0:
        from pipelines.train_distributed import train_distributed

        trainer = train_distributed(sources, folder / "train", train_config, motion_cache=motion_cache,
                                    teacher_runs=teacher_runs, init_weights=base_weights, resume=True, workers=gpus,
                                    use_gpu=True, address=address, export_path=weights_path, inference=inference,
                                    extra=extra, on_log=logged)
    else:
        trainer = train(sources, folder / "train", train_config, motion_cache=motion_cache,
                        teacher_runs=teacher_runs, live_motion_maps=True, init_weights=base_weights, resume=True,
                        on_log=logged)
        export_weights(trainer, weights_path, sources=sources, inference=inference, teacher_runs=teacher_runs,
                       extra=extra)
    return trainer.iteration, train_config.to_dict()
