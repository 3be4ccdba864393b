"""From the network's crop-space probability to the mask a shard stores, and how sure it is.

:func:`to_mask` pastes the probability back into the frame and thresholds it;
:func:`confidence` scores the network's own certainty; :func:`settle` applies the
box-consistency test (:mod:`box2mask.masks.boxfit`): a mask that fails it is
replaced by GrabCut's on the same box when that fits the box better, and its
confidence is lowered either way, so a collapsed mask never reports 0.99.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from box2mask.boxes import box_to_mask
from box2mask.crops import CropWindow, paste
from box2mask.masks.boxfit import FitRule, box_fit
from box2mask.masks.grabcut import grabcut_in_box
from box2mask.model.edges import refine_edges

if TYPE_CHECKING:
    from box2mask.model.crf import CRFConfig
    from box2mask.model.inference import InferenceConfig

RULE = FitRule()


@dataclass(frozen=True)
class Settled:
    mask: np.ndarray         # (H, W) bool
    score: float             # confidence in [0, 1], lowered when the network's mask failed the box test
    source: str              # which method made the mask: "network" or the fallback's name
    note: str | None = None  # why the fallback was asked for (None: the network's mask passed)


def to_mask(probability: np.ndarray, window: CropWindow, box: np.ndarray, height: int, width: int,
            config: "InferenceConfig", image: np.ndarray | None = None, *,
            crf: "CRFConfig | None" = None) -> np.ndarray:
    """Crop-space probability -> full-frame ``(H, W) bool`` mask, edges refined on ``image`` if asked
    (``crf``: the CRF's settings for ``edges="crf"``, default :class:`~box2mask.model.crf.CRFConfig`)."""
    full = paste(probability, window, height, width)
    if config.edges == "none" or image is None:
        mask = full >= config.threshold
    else:
        mask = refine_edges(image, full, box, mode=config.edges, threshold=config.threshold, crf=crf)
    if config.clip_to_box:  # a tight box bounds the object, so nothing outside it can be object
        mask &= box_to_mask(box, height, width)
    return mask


def confidence(probability: np.ndarray, threshold: float = 0.5) -> float:
    """How sure the network is: mean distance of its probabilities from the threshold, in [0, 1].

    Measured over the pixels where it hesitates most (the band around its own
    mask boundary), since the easy interior and far background say little.
    """
    p = probability.astype(np.float32)
    mask = (p >= threshold).astype(np.uint8)
    band = cv2.dilate(mask, np.ones((7, 7), np.uint8)) != cv2.erode(mask, np.ones((7, 7), np.uint8))
    region = p[band] if band.any() else p.reshape(-1)
    return float(np.clip(np.mean(np.abs(region - threshold)) / max(threshold, 1 - threshold), 0.0, 1.0))


def finalize_probability(probability: np.ndarray, window: CropWindow, box: np.ndarray, height: int, width: int,
                         config: "InferenceConfig", image_of: Callable[[], np.ndarray] | None) -> Settled:
    """One target frame from crop-space probability to its stored mask: paste back, threshold, box test.

    ``image_of()`` gives the full-resolution frame; it is called only when something needs it (edge
    refinement, or a mask failing the box test), so most frames are never decoded here.
    """
    image = image_of() if image_of is not None and config.edges != "none" else None
    mask = to_mask(probability, window, box, height, width, config, image)
    return settle(mask, confidence(probability, config.threshold), box, config,
                  image_of if image is None else (lambda: image))


def settle(mask: np.ndarray, score: float, box: np.ndarray, config: "InferenceConfig",
           image_of: Callable[[], np.ndarray] | None) -> Settled:
    """The network's ``mask`` checked against its tight ``box``; replaced when it fails and a candidate fits better.

    The reported score becomes ``score x fit`` for a failing mask (``fit`` < 1, see
    :meth:`BoxFit.score`), whichever mask is kept.
    """
    fit = box_fit(mask, box, side_tolerance=RULE.side_tolerance)
    reason = RULE.failure(fit)
    if reason is None:
        return Settled(mask, score, "network")
    lowered = float(score) * fit.score()
    if config.fallback == "none" or image_of is None:
        return Settled(mask, lowered, "network", f"{reason}; kept (no fallback)")
    candidate = grabcut_in_box(image_of(), box)
    if config.clip_to_box:
        candidate &= box_to_mask(box, *mask.shape)
    other = box_fit(candidate, box, side_tolerance=RULE.side_tolerance)
    if other.score() > fit.score():
        return Settled(candidate, lowered, "grabcut", f"network mask {reason}")
    return Settled(mask, lowered, "network", f"{reason}; grabcut fitted no better")
