"""Scoring a run against ground truth, DAVIS style.

Which sequences count: those the run was asked to annotate (its manifest,
failed ones included: they score as empty predictions) that the ground truth
has; ``all_gt=True`` counts every ground-truth sequence.  Which frames count:
every ground-truth frame; one the run has no row for is scored against an
empty prediction and counted in ``missing_frames`` (``sampled_only=True``
scores only the frames the run annotated, for runs that sample frames).
Each (sequence, object) is one entry; the headline figures are means over the
entries, as DAVIS 2017 does (identical to per-sequence means for DAVIS 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow.parquet as pq

from box2mask.errors import Box2MaskError
from box2mask.eval.groundtruth import GroundTruth, open_groundtruth
from box2mask.eval.metrics import frame_scores, statistics
from box2mask.export.source import RunSource, SequenceRows, row_mask


@dataclass
class ObjectScores:
    """Per-frame J and F of one object of one sequence (frame stems in order)."""

    sequence: str
    object_id: int
    stems: list[str] = field(default_factory=list)
    J: list[float] = field(default_factory=list)
    F: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.sequence if self.object_id == 1 else f"{self.sequence}/{self.object_id}"

    def summary(self) -> dict:
        j, f = statistics(self.J), statistics(self.F)
        return {"sequence": self.sequence, "object": self.object_id, "frames": len(self.J),
                "J": j["mean"], "F": f["mean"], "JF": (j["mean"] + f["mean"]) / 2,
                "J_recall": j["recall"], "J_recall_0.7": j["recall_0.7"], "J_decay": j["decay"],
                "F_recall": f["recall"], "F_recall_0.7": f["recall_0.7"], "F_decay": f["decay"]}


@dataclass
class EvalResult:
    objects: list[ObjectScores]
    missing_frames: int = 0
    missing_sequences: list[str] = field(default_factory=list)
    unmatched_tracks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    gt: str = ""
    run: str = ""

    def summary(self, *, per_frame: bool = False) -> dict:
        """The JSON document: ``J``, ``F``, ``JF`` (means over entries) at the top, then details."""
        rows = [o.summary() for o in self.objects]

        def mean(key: str) -> float:
            vals = [r[key] for r in rows if not math.isnan(r[key])]
            return float(np.mean(vals)) if vals else float("nan")

        out = {"J": mean("J"), "F": mean("F")}
        out["JF"] = (out["J"] + out["F"]) / 2
        for key in ("J_recall", "J_recall_0.7", "J_decay", "F_recall", "F_recall_0.7", "F_decay"):
            out[key] = mean(key)
        out.update(entries=len(rows), frames=int(sum(r["frames"] for r in rows)),
                   missing_frames=self.missing_frames, missing_sequences=self.missing_sequences,
                   unmatched_tracks=self.unmatched_tracks, errors=self.errors, gt=self.gt, run=self.run,
                   sequences=rows)
        if per_frame:
            out["per_frame"] = [{"sequence": o.sequence, "object": o.object_id, "stems": o.stems,
                                 "J": o.J, "F": o.F} for o in self.objects]
        return out


EVAL_COLUMNS = ["visible", "rle"]


def _manifest_ids(source: RunSource) -> list[str] | None:
    path = source.paths.manifest
    if not path.is_file():
        return None
    return [str(v) for v in pq.read_table(path, columns=["id"])["id"].to_pylist()]


def score_sequence(gt: GroundTruth, seq_id: str, pred: SequenceRows | None, *,
                   sampled_only: bool = False) -> tuple[list[ObjectScores], int, list[int]]:
    """Scores of every ground-truth object of ``seq_id``; also the missing-frame count and unmatched tracks."""
    objects = gt.object_ids(seq_id)
    rows: dict[tuple[str, int], dict] = {}
    annotated: set[str] = set()
    if pred is not None:
        for row in pred.rows():
            rows[(row["frame_stem"], int(row["track_id"]))] = row
            annotated.add(row["frame_stem"])
    unmatched = sorted({t for _, t in rows} - set(objects))
    scores = {o: ObjectScores(seq_id, o) for o in objects}
    missing = 0
    for frame in gt.frames(seq_id):
        if frame.stem not in annotated:
            if sampled_only and pred is not None:
                continue
            missing += 1
        for obj, truth in frame.masks.items():
            row = rows.get((frame.stem, obj))
            mask = row_mask(row) if row is not None else None
            if mask is None:
                mask = np.zeros_like(truth)
            elif mask.shape != truth.shape:
                raise ValueError(f"{seq_id}/{frame.stem}: prediction is {mask.shape[1]}x{mask.shape[0]}, "
                                 f"ground truth {truth.shape[1]}x{truth.shape[0]}")
            j, f = frame_scores(mask, truth, frame.void)
            s = scores[obj]
            s.stems.append(frame.stem)
            s.J.append(float(j))
            s.F.append(float(f))
    return [scores[o] for o in objects], missing, unmatched


def evaluate_run(run_dir: Path | str, gt_path: Path | str, *, sampled_only: bool = False, all_gt: bool = False,
                 sequences: list[str] | None = None,
                 on_sequence: Callable[[str], None] | None = None) -> EvalResult:
    """Score the run at ``run_dir`` against the ground truth at ``gt_path`` (see the module docstring)."""
    source = RunSource(run_dir)
    gt = open_groundtruth(gt_path)
    gt_ids = gt.sequence_ids()
    if sequences is not None:
        wanted = [s for s in sequences if s in set(gt_ids)]
    elif all_gt:
        wanted = gt_ids
    else:
        planned = _manifest_ids(source) or source.sequence_ids()
        wanted = [s for s in planned if s in set(gt_ids)]
    if not wanted:
        raise ValueError(f"no sequence of the run is in the ground truth {gt_path} "
                         f"(ground truth has e.g. {', '.join(gt_ids[:5]) or 'nothing'})")
    result = EvalResult([], gt=str(gt_path), run=str(run_dir))
    done: set[str] = set()
    by_id: dict[str, list[ObjectScores]] = {}
    def score(seq_id: str, pred: SequenceRows | None) -> None:
        try:
            objs, missing, unmatched = score_sequence(gt, seq_id, pred, sampled_only=sampled_only)
        except (ValueError, OSError, Box2MaskError) as exc:   # one bad sequence is reported, not fatal
            result.errors.append(f"{seq_id}: {exc}")
            return
        by_id[seq_id] = objs
        result.missing_frames += missing
        result.unmatched_tracks += [f"{seq_id}/{t}" for t in unmatched]
        if on_sequence is not None:
            on_sequence(seq_id)

    for pred in source.sequences(EVAL_COLUMNS, only=set(wanted)):
        done.add(pred.id)
        score(pred.id, pred)
    for seq_id in wanted:
        if seq_id not in done:
            result.missing_sequences.append(seq_id)
            score(seq_id, None)
    result.objects = [o for seq_id in wanted for o in by_id.get(seq_id, [])]
    return result


def _fmt(value: float) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def to_markdown(summary: dict, *, sampled_only: bool = False) -> str:
    """The summary as a Markdown report (a table per sequence, then the means).

    ``sampled_only``: only the frames the run annotated were scored (say so, instead of
    "every frame counts")."""
    cols = ["J", "F", "JF", "J_recall", "J_recall_0.7", "J_decay", "F_recall", "F_decay"]
    heads = ["J", "F", "J&F", "J recall ≥0.5", "J recall ≥0.7", "J decay", "F recall ≥0.5", "F decay"]
    lines = [f"# Evaluation of `{summary['run']}`", "",
             f"Ground truth: `{summary['gt']}`. {summary['entries']} objects, {summary['frames']} frames "
             + ("(only the frames the run annotated were scored; " if sampled_only else "(every frame counts; ")
             + "empty prediction on empty truth scores 1).", ""]
    if summary["missing_frames"]:
        lines += [f"{summary['missing_frames']} ground-truth frames had no prediction and were scored as empty.", ""]
    if summary["missing_sequences"]:
        lines += [f"Sequences with no prediction at all: {', '.join(summary['missing_sequences'])}.", ""]
    if summary.get("errors"):
        lines += ["Not scored (errors): " + "; ".join(summary["errors"]), ""]
    lines += ["| sequence | frames | " + " | ".join(heads) + " |",
              "|---|---:|" + "---:|" * len(cols)]
    for r in summary["sequences"]:
        name = r["sequence"] if r["object"] == 1 else f"{r['sequence']}/{r['object']}"
        lines.append(f"| {name} | {r['frames']} | " + " | ".join(_fmt(r[c]) for c in cols) + " |")
    lines.append(f"| **mean** | {summary['frames']} | " + " | ".join(f"**{_fmt(summary[c])}**" for c in cols) + " |")
    return "\n".join(lines) + "\n"
