"""Per-sequence summaries of the ground-truth-free QA signals, streamed from the shards.

What a user scanning a large run needs first: which sequences and which frames
are least trustworthy, and how the scores spread (a histogram).  Reads only the
QA columns, one shard at a time; the worst frames are kept in a bounded heap.

What cannot be read is left out and listed in ``QASummary.skipped`` (a shard
that cannot be opened, a sequence whose rows cannot be summarised), so one bad
shard does not hide the rest of the run; a run of which nothing can be read
raises :class:`~box2mask.export.source.RunError`.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import pyarrow as pa

from box2mask.errors import Box2MaskError
from box2mask.export.failures import one_line
from box2mask.export.source import RunError, RunSource, Skipped

QA_COLUMNS = ["visible", "area", "score", "qa_box_iou", "qa_fill", "qa_temporal", "qa_score", "mask_source",
              "mask_note"]
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
    box_test_failed: int = 0       # masks whose first version failed the box test (shards' mask_note)
    replaced: int = 0              # ... and were replaced by the fallback's mask (mask_source)


@dataclass
class QASummary:
    sequences: list[SequenceQA]
    worst_frames: list[dict]
    histogram: list[int]                   # counts of qa_score over HISTOGRAM_BINS equal bins of [0, 1]
    signal_histograms: dict[str, list[int]] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)   # what could not be read, and why

    @property
    def masks(self) -> int:
        return sum(s.masks for s in self.sequences)

    @property
    def box_test_failed(self) -> int:
        return sum(s.box_test_failed for s in self.sequences)

    @property
    def replaced(self) -> int:
        return sum(s.replaced for s in self.sequences)

    def worst_sequences(self, n: int) -> list[SequenceQA]:
        scored = [s for s in self.sequences if s.masks]
        return sorted(scored, key=lambda s: (s.mean, s.sequence))[:n]

    def best_sequences(self, n: int) -> list[SequenceQA]:
        scored = [s for s in self.sequences if s.masks]
        return sorted(scored, key=lambda s: (-s.mean, s.sequence))[:n]

    def to_json(self) -> dict:
        return {"masks": self.masks, "box_test_failed": self.box_test_failed, "replaced": self.replaced,
                "sequences": [asdict(s) for s in self.sequences],
                "worst_frames": self.worst_frames, "histogram": self.histogram,
                "histogram_bins": HISTOGRAM_BINS, "signal_histograms": self.signal_histograms,
                "skipped": [asdict(s) for s in self.skipped]}


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def _hist(values: np.ndarray) -> np.ndarray:
    values = values[~np.isnan(values)]
    return np.histogram(np.clip(values, 0, 1), bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0]


def _column(table, name: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in table[name].to_pylist()], dtype=np.float64)


def _flags(table, name: str) -> np.ndarray:
    return np.array([bool(v) for v in table[name].to_pylist()], dtype=bool)


def _counts(table, name: str) -> np.ndarray:
    return np.array([0 if v is None else v for v in table[name].to_pylist()], dtype=np.int64)


def summarise_run(run_dir: Path | str, *, worst: int = 20) -> QASummary:
    """Per-sequence QA, the ``worst`` lowest-scoring masks of the run and the score histograms."""
    source = RunSource(run_dir)
    method = source.info.method if source.info is not None else None
    sequences: list[SequenceQA] = []
    heap: list[tuple[float, int, dict]] = []   # max-heap on -score keeps the lowest scores
    counter = 0
    hist = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    signals = {"box_iou": "qa_box_iou", "fill": "qa_fill", "temporal": "qa_temporal", "confidence": "score"}
    signal_hist = {k: np.zeros(HISTOGRAM_BINS, dtype=np.int64) for k in signals}
    skipped: list[Skipped] = []

    def unreadable(path: Path, reason: str) -> None:
        skipped.append(Skipped("shard", f"shards/{path.name}", one_line(reason)))

    for seq in source.sequences(QA_COLUMNS, on_unreadable=unreadable):
        try:
            t = seq.table
            visible = _flags(t, "visible")
            area = _counts(t, "area")
            qa = _column(t, "qa_score")
            scored = visible & ~np.isnan(qa)
            values = qa[scored]
            full = {k: _column(t, c) for k, c in signals.items()}
            cols = {k: v[scored] for k, v in full.items()}
            stems = t["frame_stem"].to_pylist()
            tracks = t["track_id"].to_pylist()
            frame_idx = t["frame_index"].to_pylist()
            notes = t["mask_note"].to_pylist()
            sources = t["mask_source"].to_pylist()
            order = np.flatnonzero(scored)
            worst_k = order[np.argsort(qa[order], kind="stable")[:worst]] if order.size else order
            items = [{"sequence": seq.id, "track_id": int(tracks[k]), "frame_index": int(frame_idx[k]),
                      "frame_stem": stems[k], "qa_score": float(qa[k]), "mask_source": sources[k],
                      "mask_note": notes[k],
                      **{n: (None if math.isnan(v[k]) else float(v[k])) for n, v in full.items()}}
                     for k in worst_k]
            summary = SequenceQA(
                sequence=seq.id, dataset=seq.dataset, masks=int(values.size), invisible=int((~visible).sum()),
                empty=int((visible & (area == 0)).sum()), mean=_mean(values),
                min=float(values.min()) if values.size else float("nan"),
                p10=float(np.percentile(values, 10)) if values.size else float("nan"),
                low=float(np.mean(values < LOW_SCORE)) if values.size else float("nan"),
                box_iou=_mean(cols["box_iou"]), fill=_mean(cols["fill"]), temporal=_mean(cols["temporal"]),
                confidence=_mean(cols["confidence"]),
                worst_frame=stems[int(worst_k[0])] if len(worst_k) else None,
                box_test_failed=sum(1 for n in notes if n), replaced=sum(1 for n, src in zip(notes, sources)
                                                                          if n and src and src != method))
        except (Box2MaskError, ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
            skipped.append(Skipped("sequence", seq.id, f"its rows in {seq.shard} cannot be summarised: "
                                                      f"{one_line(exc)}"))
            continue
        hist += _hist(values)
        for k, v in cols.items():
            signal_hist[k] += _hist(np.minimum(v, 1.0) if k == "fill" else v)
        for item in items:
            counter += 1
            entry = (-item["qa_score"], counter, item)
            if len(heap) < worst:
                heapq.heappush(heap, entry)
            elif entry[0] > heap[0][0]:
                heapq.heapreplace(heap, entry)
        sequences.append(summary)
    if not sequences and skipped:
        raise RunError(f"nothing of the run at {source.paths.root} could be read: "
                       + "; ".join(str(s) for s in skipped[:4]))
    worst_frames = [item for _, _, item in sorted(heap, key=lambda e: (-e[0], e[1]))]
    return QASummary(sequences, worst_frames, hist.tolist(), {k: v.tolist() for k, v in signal_hist.items()},
                     skipped)
