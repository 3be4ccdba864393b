"""Pseudo-masks from an earlier box2mask run, as a soft teacher for training.

The teacher is a run folder written by ``box2mask annotate`` (shards of RLE
masks).  Its ``run.json`` names the method that made the masks; only box-to-mask
methods (GrabCut, the network itself, the filled box) can have written it, so
what the student learns from stays derived from boxes.  Ground-truth masks
cannot enter this way: a DAVIS folder is not a run folder, and training refuses
DAVIS sources outright.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from box2mask.errors import Box2MaskError
from box2mask.masks.rle import decode
from box2mask.runs import RunInfo, RunPaths
from box2mask.shards import iter_rows
from box2mask.structures import Sequence

BOX_ONLY_METHODS = {"grabcut", "network", "filled-box"}


class TeacherMasks:
    """``(sequence, frame) -> ((H, W) float32 pseudo-mask, weight)``, or ``None`` when the teacher has none.

    The weight is the mask's ground-truth-free QA score from the shards (box fit,
    fill, temporal stability, confidence; see box2mask.eval.qa), so the teacher's
    doubtful frames teach less. A frame that several runs cover gets the mean of
    their masks and of their weights: where the teachers disagree the target is
    soft (0.5 for two), so neither teacher's error is taught as certain.
    """

    def __init__(self, run_dirs: list[Path | str]):
        self.masks: dict[tuple[str, int], list[tuple[str, int, int, float]]] = {}
        self.methods: list[str] = []
        for run_dir in run_dirs:
            paths = RunPaths(Path(run_dir))
            if not paths.run_json.is_file():
                raise Box2MaskError(f"teacher {run_dir} is not a box2mask run folder (no run.json); "
                                    "make one with `box2mask annotate`")
            info = RunInfo.load(paths.run_json)
            if info.method not in BOX_ONLY_METHODS:
                raise Box2MaskError(f"teacher {run_dir} was made by {info.method!r}; only "
                                    f"{', '.join(sorted(BOX_ONLY_METHODS))} runs can teach")
            self.methods.append(info.method)
            columns = ["sequence", "frame_index", "rle", "height", "width", "qa_score"]
            for row in iter_rows(run_dir, columns=columns):
                if row["rle"] is not None:
                    weight = 1.0 if row["qa_score"] is None else float(row["qa_score"])
                    self.masks.setdefault((row["sequence"], row["frame_index"]), []).append(
                        (row["rle"], row["height"], row["width"], weight))
        if not self.masks:
            raise Box2MaskError(f"teacher runs {', '.join(map(str, run_dirs))} hold no masks")

    def __len__(self) -> int:
        return len(self.masks)

    def __call__(self, sequence: Sequence, frame: int) -> tuple[np.ndarray, float] | None:
        entries = self.masks.get((sequence.id, frame))
        if not entries:
            return None
        sizes = {(height, width) for _, height, width, _ in entries}
        if len(sizes) > 1:
            raise Box2MaskError(f"teacher runs disagree on the size of {sequence.id} frame {frame}: {sorted(sizes)}")
        masks = [decode({"size": [height, width], "counts": counts}).astype(np.float32)
                 for counts, height, width, _ in entries]
        return np.mean(masks, axis=0, dtype=np.float32), float(np.mean([e[3] for e in entries]))
