"""Per-sequence summaries of the ground-truth-free QA signals, streamed from the shards.

What a user scanning a large run needs first: which sequences and which frames
are least trustworthy, and how the scores spread (a histogram).  Reads only the
QA columns, one shard at a time; the worst frames are kept in a bounded heap.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from box2mask.export.source import RunSource

QA_COLUMNS = ["visible", "area", "score", "qa_box_iou", "qa_fill", "qa_temporal", "qa_score"]
HISTOGRAM_BINS = 20
LOW_SCORE = 0.5


@dataclass
class SequenceQA:
    """QA of one sequence: ``masks`` scored, ``low`` = share of them under :data:`LOW_SCORE`."""

    sequence: str
    dataset: str
    masks: int
    invisible: int
    empty: int
    mean: float
    min: float
    p10: float
    low: float
    box_iou: float
    fill: float
    temporal: float
    confidence: float
    worst_frame: str | None = None


@dataclass
class QASummary:
    sequences: list[SequenceQA]
    worst_frames: list[dict]
    histogram: list[int]                   # counts of qa_score over HISTOGRAM_BINS equal bins of [0, 1]
    signal_histograms: dict[str, list[int]] = field(default_factory=dict)

    @property
    def masks(self) -> int:
        return sum(s.masks for s in self.sequences)

    def worst_sequences(self, n: int) -> list[SequenceQA]:
        scored = [s for s in self.sequences if s.masks]
        return sorted(scored, key=lambda s: (s.mean, s.sequence))[:n]

    def best_sequences(self, n: int) -> list[SequenceQA]:
        scored = [s for s in self.sequences if s.masks]
        return sorted(scored, key=lambda s: (-s.mean, s.sequence))[:n]

    def to_json(self) -> dict:
        return {"masks": self.masks, "sequences": [asdict(s) for s in self.sequences],
                "worst_frames": self.worst_frames, "histogram": self.histogram,
                "histogram_bins": HISTOGRAM_BINS, "signal_histograms": self.signal_histograms}


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def _hist(values: np.ndarray) -> np.ndarray:
    values = values[~np.isnan(values)]
    return np.histogram(np.clip(values, 0, 1), bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0]


def _column(table, name: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in table[name].to_pylist()], dtype=np.float64)


def summarise_run(run_dir: Path | str, *, worst: int = 20) -> QASummary:
    """Per-sequence QA, the ``worst`` lowest-scoring masks of the run and the score histograms."""
    source = RunSource(run_dir)
    sequences: list[SequenceQA] = []
    heap: list[tuple[float, int, dict]] = []   # max-heap on -score keeps the lowest scores
    counter = 0
    hist = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    signals = {"box_iou": "qa_box_iou", "fill": "qa_fill", "temporal": "qa_temporal", "confidence": "score"}
    signal_hist = {k: np.zeros(HISTOGRAM_BINS, dtype=np.int64) for k in signals}
    for seq in source.sequences(QA_COLUMNS):
        t = seq.table
        visible = np.array(t["visible"].to_pylist(), dtype=bool)
        area = np.array(t["area"].to_pylist(), dtype=np.int64)
        qa = _column(t, "qa_score")
        scored = visible & ~np.isnan(qa)
        values = qa[scored]
        hist += _hist(values)
        full = {k: _column(t, c) for k, c in signals.items()}
        cols = {k: v[scored] for k, v in full.items()}
        for k, v in cols.items():
            signal_hist[k] += _hist(np.minimum(v, 1.0) if k == "fill" else v)
        stems = t["frame_stem"].to_pylist()
        tracks = t["track_id"].to_pylist()
        frame_idx = t["frame_index"].to_pylist()
        order = np.flatnonzero(scored)
        worst_k = order[np.argsort(qa[order], kind="stable")[:worst]] if order.size else order
        for k in worst_k:
            item = {"sequence": seq.id, "track_id": int(tracks[k]), "frame_index": int(frame_idx[k]),
                    "frame_stem": stems[k], "qa_score": float(qa[k]),
                    **{n: (None if math.isnan(v[k]) else float(v[k])) for n, v in full.items()}}
            counter += 1
            entry = (-float(qa[k]), counter, item)
            if len(heap) < worst:
                heapq.heappush(heap, entry)
            elif entry[0] > heap[0][0]:
                heapq.heapreplace(heap, entry)
        sequences.append(SequenceQA(
            sequence=seq.id, dataset=seq.dataset, masks=int(values.size), invisible=int((~visible).sum()),
            empty=int((visible & (area == 0)).sum()), mean=_mean(values),
            min=float(values.min()) if values.size else float("nan"),
            p10=float(np.percentile(values, 10)) if values.size else float("nan"),
            low=float(np.mean(values < LOW_SCORE)) if values.size else float("nan"),
            box_iou=_mean(cols["box_iou"]), fill=_mean(cols["fill"]), temporal=_mean(cols["temporal"]),
            confidence=_mean(cols["confidence"]),
            worst_frame=stems[int(worst_k[0])] if len(worst_k) else None))
    worst_frames = [item for _, _, item in sorted(heap, key=lambda e: (-e[0], e[1]))]
    return QASummary(sequences, worst_frames, hist.tolist(), {k: v.tolist() for k, v in signal_hist.items()})
