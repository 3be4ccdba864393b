"""GOT-10k in its native layout.

::

    <split>/list.txt                      sequence names, one per line
    <split>/GOT-10k_Train_000001/
        00000001.jpg ...                  frames
        groundtruth.txt                   x,y,w,h per frame (test split: first frame only)
        absence.label                     1 = object absent, per frame
        cover.label                       visible fraction bin 0..8 (0 = fully occluded)
        cut_by_image.label                1 = object cut by the image border
        meta_info.ini                     "key: value" lines (object_class, motion_class, ...)

``root`` may be the split folder itself or the GOT-10k root holding ``train/``,
``val/`` and ``test/`` (then ``split`` picks one).  A frame is visible when it is
not absent, its cover is above 0 and its box is usable.  Every ``list.txt`` line
must name a folder inside the split folder (:mod:`box2mask.datasets.entries`);
a line listed twice is read once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from box2mask.datasets.entries import Listing, listing_from_file, listing_from_folders, sequence_folder
from box2mask.datasets.validation import (
    ProblemLog,
    finalize_boxes,
    frames_and_boxes,
    parse_flags,
    present,
    read_lines,
)
from box2mask.errors import DatasetError
from box2mask.structures import Sequence, Track

SPLITS = ("train", "val", "test")


class Got10kReader:
    """Reads GOT-10k sequences one at a time (see the module docstring for the layout)."""

    name = "got10k"

    def __init__(self, root: Path | str, *, split: str | None = None):
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"GOT-10k root {root} does not exist or is not a folder")
        if not present(root / "list.txt") and not any(root.glob("GOT-10k_*")):
            chosen = split or "train"
            if chosen not in SPLITS:
                raise DatasetError(f"unknown GOT-10k split {chosen!r}; choose one of {', '.join(SPLITS)}")
            if not (root / chosen).is_dir():
                raise DatasetError(
                    f"{root} is neither a GOT-10k split folder (with list.txt) nor a GOT-10k root "
                    f"with a {chosen}/ folder"
                )
            root = root / chosen
        self.root = root
        self.split = split or _split_from_folder(root)
        self._listing: Listing | None = None

    def listing(self) -> Listing:
        """The sequences of ``list.txt`` (or, without one, the ``GOT-10k_*`` folders), read once."""
        if self._listing is None:
            path = self.root / "list.txt"
            if present(path):
                self._listing = listing_from_file(path)
            else:
                names = sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name.startswith("GOT-10k_"))
                if not names:
                    raise DatasetError(f"{self.root} has no list.txt and no GOT-10k_* sequence folders")
                self._listing = listing_from_folders(names)
        return self._listing

    def sequence_ids(self) -> list[str]:
        return self.listing().ids()

    def load(self, seq_id: str) -> Sequence:
        log = ProblemLog(seq_id)
        folder = sequence_folder(self.listing(), seq_id, self.root, log)
        if not folder.is_dir():
            log.error("sequence folder listed in list.txt does not exist", folder)
            log.raise_if_errors()
        gt_path = folder / "groundtruth.txt"
        frames, (height, width), xywh = frames_and_boxes(folder, gt_path, log)
        n = len(frames)
        split = _split_from_name(seq_id) or self.split
        first_frame_only = xywh.shape[0] == 1 and n > 1 and split == "test"
        if first_frame_only:
            log.warn(
                f"GOT-10k test split gives only the first frame's box; frames 2..{n} have no box "
                "and will get no mask", gt_path, 1,
            )
            xywh = np.vstack([xywh, np.full((n - 1, 4), np.nan)])
        elif xywh.shape[0] != n:
            log.error(f"has {xywh.shape[0]} box lines for {n} frames", gt_path)
            log.raise_if_errors()

        absence = parse_flags(folder / "absence.label", log, n=n, allowed=range(0, 2), default=0, one_row=False)
        cover = parse_flags(folder / "cover.label", log, n=n, allowed=range(0, 9), default=8, one_row=False)
        cut = parse_flags(folder / "cut_by_image.label", log, n=n, allowed=range(0, 2), default=0, one_row=False)
        meta = _read_meta(folder / "meta_info.ini", log)
        log.raise_if_errors()

        present = (absence == 0) & (cover > 0)
        boxes, visible = finalize_boxes(xywh, present, height=height, width=width, log=log, file=gt_path)
        meta.update(split=split, first_frame_only=str(first_frame_only).lower())
        category = meta.get("object_class", "unknown")
        track = Track(1, boxes, visible, category=category,
                      flags={"absence": absence, "cover": cover, "cut_by_image": cut})
        return Sequence(
            id=seq_id, dataset=self.name, frames=tuple(frames), tracks=(track,),
            image_size=(height, width), meta=meta, warnings=log.warnings(),
        )


def _read_meta(path: Path, log: ProblemLog) -> dict[str, str]:
    lines = read_lines(path, log, required=False)
    if lines is None:
        if not path.exists():
            log.warn("file is missing; object class set to 'unknown'", path)
        return {"class": "unknown"}
    meta: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.strip().startswith("["):
            meta[key.strip()] = value.strip()
    if "object_class" not in meta:
        log.warn("has no 'object_class:' line; object class set to 'unknown'", path)
    meta["class"] = meta.get("object_class", "unknown")
    return meta


def _split_from_name(seq_id: str) -> str | None:
    parts = seq_id.split("_")
    if len(parts) >= 3 and parts[0] == "GOT-10k" and parts[1].lower() in SPLITS:
        return parts[1].lower()
    return None


def _split_from_folder(root: Path) -> str:
    name = root.name.lower()
    return name if name in SPLITS else "unknown"
