"""Shared test fixtures' building blocks: paths to the real data, tiny datasets built on the fly."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from box2mask.boxes import box_from_mask
from box2mask.masks.png import read_label_png

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BOX2MASK_SHARED", REPO.parent / "shared"))
DAVIS = SHARED / "data" / "davis16-dev"
LASOT = SHARED / "data" / "lasot"


def require(path: Path) -> Path:
    """Skip the calling test with a clear reason when real data is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set BOX2MASK_SHARED or place ../shared beside the repo)")
    return path


def got10k_from_davis(dest: Path, sequences: list[str], *, max_frames: int | None = None,
                      split: str = "train") -> Path:
    """Build a GOT-10k split folder from davis16-dev frames, with boxes from the masks.

    Only boxes are written (no masks), exactly what a GOT-10k user has.
    """
    split_dir = dest / split
    names = []
    for k, seq in enumerate(sequences, start=1):
        name = f"GOT-10k_{split.capitalize()}_{k:06d}"
        names.append(name)
        folder = split_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        frames = sorted((DAVIS / "JPEGImages" / "480p" / seq).glob("*.jpg"))[:max_frames]
        lines, absence, cover = [], [], []
        for i, frame in enumerate(frames, start=1):
            shutil.copyfile(frame, folder / f"{i:08d}.jpg")
            box = box_from_mask(read_label_png(DAVIS / "Annotations" / "480p" / seq / f"{frame.stem}.png") > 0)
            if np.isnan(box).any():
                lines.append("0,0,0,0")
                absence.append("1")
                cover.append("0")
            else:
                lines.append(f"{box[0]:.1f},{box[1]:.1f},{box[2] - box[0]:.1f},{box[3] - box[1]:.1f}")
                absence.append("0")
                cover.append("8")
        (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
        (folder / "absence.label").write_text("\n".join(absence) + "\n")
        (folder / "cover.label").write_text("\n".join(cover) + "\n")
        (folder / "cut_by_image.label").write_text("\n".join("0" for _ in frames) + "\n")
        (folder / "meta_info.ini").write_text(
            f"[METAINFO]\nurl: davis://{seq}\nbegin_s: 0\nend_s: 0\nresolution: (854, 480)\n"
            f"object_class: {seq.split('-')[0]}\nmotion_class: moving\nmajor_class: davis\n"
            "root_class: object\nmotion_adverb: fast\n")
    (split_dir / "list.txt").write_text("\n".join(names) + "\n")
    return split_dir
