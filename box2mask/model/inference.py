"""The inference settings of the network (crop, support frames, mirror averaging, fallback, ...).

Shipped in the weights file as its defaults; ``-O KEY=VALUE`` overrides them and
:func:`check_overrides` validates such overrides on the driver, before any worker starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

from box2mask.errors import Box2MaskError

FALLBACKS = ("none", "grabcut")
EDGE_MODES = ("none", "guided", "grabcut", "crf")  # the refiners of box2mask.model.edges (its MODES)
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
MINIMUMS = {"clips_per_batch": (0, "0 (per device) or more"), "feature_cache": (1, "at least 1")}


@dataclass(frozen=True)
class InferenceConfig:
    crop_size: int = 256
    context: float = 2.6      # crop side / sqrt(box area)
    support: int = 5          # T: frames segmented together
    interval: int = 5         # Delta: their spacing in frames (seed 001: 5 on DAVIS)
    iterations: int = 15      # steepest-descent steps (seed 001: 15 at inference)
    refine: bool = True
    boundary: bool = True     # run the weights' boundary stage (box2mask.model.boundary) when they have one
    threshold: float = 0.5
    edges: str = "none"       # full-resolution edge refinement: none | guided | grabcut | crf (box2mask.model.edges)
    flip: bool = False        # also segment the mirrored crops and average (2x the network work; off: see the model card)
    clip_to_box: bool = True  # drop mask pixels outside the (tight) box
    fallback: str = "grabcut"  # a mask failing the box test (box2mask.masks.boxfit) -> GrabCut's, if it fits better
    clips_per_batch: int = 0  # clips per network call; 0: per device (box2mask.model.runtime: 1 on CPU, more on a GPU)
    feature_cache: int = 48   # frames whose crops/features stay cached
    precision: str = "auto"   # auto (bfloat16 autocast on a GPU, float32 on CPU) | float32 | bfloat16 | float16


def needs_image(config: InferenceConfig) -> bool:
    """Whether finalize needs every target's full-resolution frame (edge refinement). The fallback needs
    one only for a mask failing the box test, and reads it then."""
    return config.edges != "none"


def check_overrides(overrides: dict) -> dict:
    """``overrides`` checked against :class:`InferenceConfig`'s fields: names, and types of values.

    Raises :class:`~box2mask.errors.Box2MaskError` naming the bad key and listing the
    valid ones, so ``-O flipp=false`` fails on the driver before any worker starts.
    """
    known = {f.name: f for f in fields(InferenceConfig)}
    for key, value in overrides.items():
        if key not in known:
            raise Box2MaskError(f"unknown network option {key!r}; valid options: {', '.join(known)}")
        kind = type(getattr(InferenceConfig(), key))
        ok = (isinstance(value, bool) if kind is bool else
              isinstance(value, int) and not isinstance(value, bool) if kind is int else
              isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else
              isinstance(value, kind))
        if not ok:
            expected = "true or false" if kind is bool else (
                f"{kind.__name__} (e.g. {key}={json.dumps(getattr(InferenceConfig(), key))})")
            raise Box2MaskError(f"network option {key}={value!r}: expected {expected}")
        if key == "fallback" and value not in FALLBACKS:
            raise Box2MaskError(f"network option fallback={value!r}: choose one of {', '.join(FALLBACKS)}")
        if key == "edges" and value not in EDGE_MODES:
            raise Box2MaskError(f"network option edges={value!r}: choose one of {', '.join(EDGE_MODES)}")
        if key == "precision" and value not in PRECISIONS:
            raise Box2MaskError(f"network option precision={value!r}: choose one of {', '.join(PRECISIONS)}")
        if key in MINIMUMS and value < MINIMUMS[key][0]:
            raise Box2MaskError(f"network option {key}={value!r}: expected {MINIMUMS[key][1]}")
    return dict(overrides)
