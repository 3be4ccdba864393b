"""Full-resolution edge refinement of the network's probabilities (optional, CPU).

The network works on a resampled crop, so its mask boundary is only as sharp
as the crop's pixels.  Two classical refinements put the boundary back on the
frame's own edges:

* ``"guided"``: an edge-preserving guided filter of the pasted probabilities,
  with the frame as guide (cheap);
* ``"grabcut"``: GrabCut initialised from the probabilities instead of from the
  bare box: confident pixels are fixed, the rest may flip, and the colour models
  start from what the network believes (seed 001 and the davis16-dev probe both
  found learned scores and colour models complementary);
* ``"crf"``: a mean-field CRF restricted to the box (:mod:`box2mask.model.crf`)
  with the probabilities as the unary term and the frame's colours in the pairwise
  term, at the frame's resolution (up to ``max_side``).

Both work on a region around the box at most ``max_side`` pixels on its long side.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from box2mask.losses import rgb_to_lab
from box2mask.model.crf import CRFConfig, box_crf
from box2mask.model.inference import EDGE_MODES as MODES


def _region(box: np.ndarray, height: int, width: int, context: float) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    return (int(max(0, np.floor(x0 - context * bw))), int(max(0, np.floor(y0 - context * bh))),
            int(min(width, np.ceil(x1 + context * bw))), int(min(height, np.ceil(y1 + context * bh))))


def refine_edges(image: np.ndarray, probability: np.ndarray, box: np.ndarray, *, mode: str,
                 threshold: float = 0.5, max_side: int = 400, context: float = 0.25,
                 iterations: int = 3, crf: CRFConfig | None = None) -> np.ndarray:
    """``(H, W) bool`` mask from full-frame ``probability (H, W) float32`` and ``image (H, W, 3)`` RGB."""
    if mode == "none":
        return probability >= threshold
    if mode not in MODES:
        raise ValueError(f"unknown edge refinement {mode!r}; choose one of {', '.join(MODES)}")
    height, width = probability.shape
    cx0, cy0, cx1, cy1 = _region(box, height, width, context)
    out = probability >= threshold
    if cx1 - cx0 < 4 or cy1 - cy0 < 4:
        return out
    crop = image[cy0:cy1, cx0:cx1]
    prob = probability[cy0:cy1, cx0:cx1]
    scale = min(1.0, max_side / max(crop.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        prob = cv2.resize(prob, size, interpolation=cv2.INTER_LINEAR)
    if mode == "guided":
        radius = max(2, int(round(4 * max(crop.shape[:2]) / 400)))
        refined = cv2.ximgproc.guidedFilter(crop, prob.astype(np.float32), radius, 1e-3) >= threshold
    elif mode == "crf":
        refined = _crf(crop, prob, _box_in_region(box, cx0, cy0, scale, crop.shape), crf) >= threshold
    else:
        refined = _grabcut(crop, prob, box_region=_box_in_region(box, cx0, cy0, scale, crop.shape),
                           threshold=threshold, iterations=iterations)
    region = cv2.resize(refined.astype(np.uint8), (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_NEAREST)
    out[cy0:cy1, cx0:cx1] = region.astype(bool)
    return out


def _box_in_region(box, cx0, cy0, scale, shape) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x0 = int(np.clip(np.floor((box[0] - cx0) * scale), 0, w - 1))
    y0 = int(np.clip(np.floor((box[1] - cy0) * scale), 0, h - 1))
    x1 = int(np.clip(np.ceil((box[2] - cx0) * scale), x0 + 1, w))
    y1 = int(np.clip(np.ceil((box[3] - cy0) * scale), y0 + 1, h))
    return x0, y0, x1, y1


def _grabcut(crop: np.ndarray, prob: np.ndarray, *, box_region, threshold: float, iterations: int) -> np.ndarray:
    x0, y0, x1, y1 = box_region
    labels = np.full(prob.shape, cv2.GC_BGD, np.uint8)  # outside the box: background for sure
    inside = labels[y0:y1, x0:x1]
    p = prob[y0:y1, x0:x1]
    inside[:] = np.where(p >= threshold, cv2.GC_PR_FGD, cv2.GC_PR_BGD)
    inside[p >= 0.95] = cv2.GC_FGD
    guess = labels == cv2.GC_PR_FGD
    if not (guess.any() or (labels == cv2.GC_FGD).any()) or (labels == cv2.GC_BGD).sum() < 16:
        return prob >= threshold
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)  # deterministic k-means start (see box2mask.methods.grabcut)
    try:
        cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, iterations,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return prob >= threshold
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def _crf(crop: np.ndarray, prob: np.ndarray, box_region, config: CRFConfig | None) -> np.ndarray:
    x0, y0, x1, y1 = box_region
    inside = np.zeros(prob.shape, bool)
    inside[y0:y1, x0:x1] = True
    image = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255.0
    q = box_crf(torch.from_numpy(prob.astype(np.float32))[None, None], rgb_to_lab(image),
                torch.from_numpy(inside)[None, None], config or CRFConfig())
    return q[0, 0].numpy()
