"""`box2mask eval` agrees with a second, independently written DAVIS implementation on real data.

Predictions: filled boxes on bear, car-turn and surf (every frame; surf has an
empty ground-truth frame) and GrabCut on every 10th frame of bear.  The second
implementation reads the PNGs with PIL and the RLEs with pycocotools itself,
finds boundary pixels by comparing each pixel with its padded right, lower and
lower-right neighbours (DAVIS's rule, including its last-row/column special
cases), matches boundaries with a Euclidean distance transform instead of a
disk dilation, and aggregates with plain loops.
"""

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools import mask as mask_utils

from box2mask.shards import iter_rows
from tests.runbuild import build_run

SEQUENCES = ["bear", "car-turn", "surf"]


def read_truth(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im.convert("L")) > 0 if im.mode != "P" else np.array(im) > 0


def davis_boundary(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.int8)
    padded = np.pad(m, ((0, 1), (0, 1)))
    east, south, south_east = padded[:-1, 1:], padded[1:, :-1], padded[1:, 1:]
    b = (m != east) | (m != south) | (m != south_east)
    b[-1, :] = m[-1, :] != east[-1, :]
    b[:, -1] = m[:, -1] != south[:, -1]
    b[-1, -1] = False
    return b


def near(boundary: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within Euclidean distance ``radius`` of a boundary pixel."""
    dist = cv2.distanceTransform(np.where(boundary, 0, 255).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist <= radius + 1e-6


def independent_scores(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    inter, union = int((pred & gt).sum()), int((pred | gt).sum())
    j = 1.0 if union == 0 else inter / union
    radius = math.ceil(0.008 * math.sqrt(gt.shape[0] ** 2 + gt.shape[1] ** 2))
    pb, gb = davis_boundary(pred), davis_boundary(gt)
    if not pb.any() and not gb.any():
        return j, 1.0
    if not pb.any() or not gb.any():
        return j, 0.0
    precision = (pb & near(gb, radius)).sum() / pb.sum()
    recall = (gb & near(pb, radius)).sum() / gb.sum()
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return j, float(f)


def independent_eval(run: Path, davis: Path) -> dict[str, tuple[float, float]]:
    preds = {(r["sequence"], r["frame_stem"]): r for r in iter_rows(run)}
    sequences = sorted({s for s, _ in preds})
    out = {}
    for seq in sequences:
        js, fs = [], []
        for png in sorted((davis / "Annotations" / "480p" / seq).glob("*.png")):
            gt = read_truth(png)
            row = preds.get((seq, png.stem))
            if row is None:
                continue                       # the run did not annotate this frame (--sampled-only)
            if row["rle"] is None:
                pred = np.zeros_like(gt)
            else:
                pred = mask_utils.decode({"size": [row["height"], row["width"]],
                                          "counts": row["rle"].encode()}).astype(bool)
            j, f = independent_scores(pred, gt)
            js.append(j)
            fs.append(f)
        out[seq] = (sum(js) / len(js), sum(fs) / len(fs))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, davis_root):
    base = tmp_path_factory.mktemp("agree")
    return {"filled-box": build_run("davis", davis_root, base / "box", ids=SEQUENCES, sequences_per_shard=2),
            "grabcut": build_run("davis", davis_root, base / "gc", method="grabcut", ids=["bear"], every=10)}


@pytest.mark.parametrize("method", ["filled-box", "grabcut"])
def test_eval_agrees_with_independent_davis_implementation(runs, davis_root, tmp_path, method):
    from cli.main import main

    run = runs[method]
    result = CliRunner().invoke(main, ["eval", str(run), "--gt", str(davis_root), "--sampled-only",
                                       "--json", str(tmp_path / "e.json"), "--markdown", str(tmp_path / "e.md")])
    assert result.exit_code == 0, result.output
    ours = json.loads((tmp_path / "e.json").read_text())
    theirs = independent_eval(run, davis_root)
    by_seq = {r["sequence"]: r for r in ours["sequences"]}
    assert set(by_seq) == set(theirs)
    diffs = []
    for seq, (j, f) in theirs.items():
        diffs += [abs(by_seq[seq]["J"] - j), abs(by_seq[seq]["F"] - f)]
    mean_j = sum(j for j, _ in theirs.values()) / len(theirs)
    mean_f = sum(f for _, f in theirs.values()) / len(theirs)
    diffs += [abs(ours["J"] - mean_j), abs(ours["F"] - mean_f), abs(ours["JF"] - (mean_j + mean_f) / 2)]
    assert max(diffs) < 0.005, diffs
    assert 0.1 < ours["F"] < 0.95        # a real, non-trivial boundary score
