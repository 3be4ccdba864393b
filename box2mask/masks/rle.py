"""COCO run-length encoding, with pycocotools' conventions stated once.

pycocotools encodes column-major (Fortran-order) ``uint8`` masks and returns
``counts`` as bytes; we always hand out ``{"size": [H, W], "counts": str}`` so the
result can go straight into JSON or a parquet string column.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils


def encode(mask: np.ndarray) -> dict:
    """``(H, W) bool`` mask to ``{"size": [H, W], "counts": str}``."""
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def _coco(rle: dict) -> dict:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def decode(rle: dict) -> np.ndarray:
    """Inverse of :func:`encode`; accepts ``counts`` as str or bytes."""
    return mask_utils.decode(_coco(rle)).astype(bool)


def area(rle: dict) -> int:
    return int(mask_utils.area(_coco(rle)))


def bbox_xywh(rle: dict) -> list[float]:
    """COCO ``[x, y, w, h]`` of the mask's tight box (zeros for an empty mask)."""
    return [float(v) for v in mask_utils.toBbox(_coco(rle))]
