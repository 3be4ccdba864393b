"""Settings of the motion stage, with one preset per row of the ablation (paper Table 6).

Every constant that shapes a map lives here so a run can record exactly what it
used (``MotionConfig.to_dict``) and a re-run can tell whether old output matches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

ColourSpace = Literal["lab", "gray"]


@dataclass(frozen=True)
class MotionConfig:
    """How motion maps are computed.

    Filters (the ablation switches):

    * ``box_filter``: sample background points only outside every box (+ margin).
    * ``bidirectional``: keep points whose forward-backward LK error is <= the median.
    * ``temporal``: combine the maps against t-1 and t+1 by Eq. 2 of the paper.
    * ``compensate``: register the frames at all (False = plain frame differencing,
      a reference row, not one of the paper's configurations).

    Sizes in pixels are at *full* image resolution unless the name says otherwise.
    """

    name: str = "full"
    compensate: bool = True
    box_filter: bool = True
    bidirectional: bool = True
    temporal: bool = True

    # resolution: maps are made at the frame decoded with libjpeg's 1/reduce scaling,
    # reduce chosen as the smallest of 1, 2, 4, 8 giving a long side <= max_side.
    max_side: int = 480
    # registration runs on a further downscaled grey image (long side <= this)
    register_side: int = 240

    # Box Filter and point sampling (grid: one strongest corner per cell)
    grid_rows: int = 12
    grid_cols: int = 16
    box_margin: float = 0.1          # of the box's width/height, on each side
    box_margin_px: float = 8.0       # plus this many full-resolution pixels
    corner_quality: float = 0.005    # of the frame's strongest corner response
    min_corner_strength: float = 1e-4  # cornerMinEigenVal below this = no texture

    # pyramidal Lucas-Kanade (register-resolution pixels)
    lk_window: int = 11
    lk_levels: int = 3
    lk_iterations: int = 10

    # homography
    method: Literal["ransac", "magsac"] = "ransac"
    ransac_threshold: float = 2.0    # full-resolution pixels
    min_points: int = 10             # fewer survivors: fall back to a similarity
    min_inliers: int = 8
    min_inlier_ratio: float = 0.3    # of the points handed to the fit

    # maps
    colour_space: ColourSpace = "lab"
    chroma_weight: float = 1.0       # weight of |da| + |db| against |dL| (Lab only)
    pre_blur: int = 3                # box blur of frames before differencing (odd, 0 = off)
    post_blur: int = 5               # box blur of the difference (odd, 0 = off)
    tau2: float = 30.0               # Eq. 2 threshold, in difference units (see docs/motion.md)
    norm_quantile: float = 0.98      # per-frame robust peak used for normalisation
    norm_floor: float = 20.0         # the peak never counts as less than this (difference units)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_(self, **changes: Any) -> "MotionConfig":
        return replace(self, **changes)


PRESETS: dict[str, MotionConfig] = {
    "none": MotionConfig(name="none", box_filter=False, bidirectional=False, temporal=False),
    "bf": MotionConfig(name="bf", box_filter=True, bidirectional=False, temporal=False),
    "bf-bdf": MotionConfig(name="bf-bdf", box_filter=True, bidirectional=True, temporal=False),
    "full": MotionConfig(name="full"),
}
"""The four configurations of the ablation: none, BF, BF+BDF, BF+BDF+TM."""


def preset(name: str) -> MotionConfig:
    """The preset called ``name`` (``none``, ``bf``, ``bf-bdf``, ``full``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown motion configuration {name!r}; known: {', '.join(PRESETS)}") from None
