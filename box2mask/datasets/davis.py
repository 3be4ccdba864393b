"""DAVIS-style folders, for evaluation.

::

    <root>/JPEGImages/<resolution>/<seq>/00000.jpg ...
    <root>/Annotations/<resolution>/<seq>/00000.png ...
    <root>/ImageSets/**/<name>.txt   optional sequence lists (or <root>/<name>.txt)

Boxes are the tight boxes of the masks; a palette mask with several object ids
gives one track per id (DAVIS 2017), any other mask mode gives one track of the
nonzero pixels (DAVIS 2016).  A frame whose mask lacks the id is invisible.

The masks are *evaluation data*: this reader opens them to derive boxes and
offers :meth:`DavisReader.masks` for scoring.  Nothing on the training path calls
either; training sees only the :class:`~box2mask.structures.Sequence` (boxes).

Every listed name must be a plain folder name whose frame and mask folders lie inside
``JPEGImages/<resolution>`` and ``Annotations/<resolution>`` (:mod:`box2mask.datasets.entries`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from box2mask.boxes import box_from_mask
from box2mask.datasets.entries import (
    Listing,
    check_entry_name,
    check_inside,
    entry_name,
    listing_from_file,
    listing_from_folders,
    shown_id,
)
from box2mask.datasets.validation import ProblemLog, present, scan_frames
from box2mask.errors import DatasetError
from box2mask.frames import regular_file_problem
from box2mask.masks.png import VOID_LABEL, read_label_png
from box2mask.structures import Sequence, Track


class DavisReader:
    """Reads DAVIS-style sequences; ``image_set`` names a list under ``ImageSets/`` (or at the root)."""

    name = "davis"

    def __init__(self, root: Path | str, *, resolution: str = "480p", image_set: str | None = None,
                 split: str | None = None):
        self.root = Path(root)
        self.resolution = resolution
        self.images = self.root / "JPEGImages" / resolution
        self.annotations = self.root / "Annotations" / resolution
        if not self.images.is_dir():
            raise DatasetError(f"{self.root} is not a DAVIS folder: {self.images} is missing")
        if not self.annotations.is_dir():
            raise DatasetError(f"{self.root} is not a DAVIS folder: {self.annotations} is missing")
        self.image_set = image_set or split
        if self.image_set is not None:
            reason = check_entry_name(self.image_set)
            if reason is not None:
                raise DatasetError(f"--split {shown_id(self.image_set)!r} {reason}; give the name of a list, "
                                   "e.g. val for ImageSets/**/val.txt or val.txt")
        self._listing: Listing | None = None

    def list_file(self) -> Path:
        """The list of ``image_set``: the first ``ImageSets/**/<name>.txt`` in path order, else
        ``<root>/<name>.txt``."""
        wanted = f"{self.image_set}.txt"
        matches = sorted(p for p in (self.root / "ImageSets").rglob("*.txt") if p.name == wanted)
        if matches:
            return matches[0]
        at_root = self.root / wanted
        if present(at_root):
            return at_root
        raise DatasetError(f"no ImageSets/**/{wanted} or {wanted} under {self.root}")

    def listing(self) -> Listing:
        """The sequences of the list file, or (no ``image_set``) the frame folders; read once."""
        if self._listing is None:
            if self.image_set:
                self._listing = listing_from_file(self.list_file())
            else:
                self._listing = listing_from_folders(sorted(p.name for p in self.images.iterdir() if p.is_dir()))
        return self._listing

    def sequence_ids(self) -> list[str]:
        return self.listing().ids()

    def mask_paths(self, seq_id: str, frames: tuple[Path, ...]) -> list[Path]:
        return [self.annotations / seq_id / f"{f.stem}.png" for f in frames]

    def masks(self, sequence: Sequence) -> list[np.ndarray | None]:
        """Per-frame ``(H, W) uint8`` id maps for *evaluation*; ``None`` where no file exists."""
        paths = self.mask_paths(sequence.id, sequence.frames)
        return [read_label_png(p) if p.is_file() else None for p in paths]

    def load(self, seq_id: str) -> Sequence:
        log = ProblemLog(seq_id)
        listing = self.listing()
        name = entry_name(listing, seq_id, log, where=self.images)
        check_inside(listing, seq_id, self.images / name, self.images, log)
        check_inside(listing, seq_id, self.annotations / name, self.annotations, log)
        frames, size = scan_frames(self.images / name, log)
        if not (self.annotations / name).is_dir():
            log.error("annotation folder is missing", self.annotations / name)
        log.raise_if_errors()
        assert size is not None
        height, width = size
        labels_per_frame = [self._read_mask(path, (height, width), log)
                            for path in self.mask_paths(name, tuple(frames))]
        if all(lab is None for lab in labels_per_frame):
            log.error("no mask file matches any frame", self.annotations / name)
        log.raise_if_errors()

        # bincount, not np.unique: ids are uint8 and this is 4x faster on 480p masks (motion benchmark)
        ids = sorted({int(v) for lab in labels_per_frame if lab is not None
                      for v in np.flatnonzero(np.bincount(lab.ravel(), minlength=256))} - {0, VOID_LABEL})
        n = len(frames)
        tracks = []
        for obj in ids:
            boxes = np.full((n, 4), np.nan)
            for k, lab in enumerate(labels_per_frame):
                if lab is not None:
                    boxes[k] = box_from_mask(lab == obj)
            visible = ~np.isnan(boxes).any(axis=1)
            tracks.append(Track(obj, boxes, visible, category="object"))
        missing = sum(lab is None for lab in labels_per_frame)
        if missing:
            log.warn(f"{missing} of {n} frames have no mask file; their boxes are unknown",
                     self.annotations / name)
        if not tracks:
            log.warn("masks hold no object; the sequence has no track", self.annotations / name)
        meta = {"class": "object", "split": self.image_set or "unknown"}
        return Sequence(
            id=seq_id, dataset=self.name, frames=tuple(frames), tracks=tuple(tracks),
            image_size=(height, width), meta=meta, warnings=log.warnings(),
        )

    @staticmethod
    def _read_mask(path: Path, size: tuple[int, int], log: ProblemLog) -> np.ndarray | None:
        """The ids of one mask file; ``None`` if there is none (or it is unusable, with an error)."""
        reason = regular_file_problem(path)
        if reason == "missing":
            return None
        if reason is not None:
            log.error(f"mask is {reason}; replace it with a PNG file", path)
            return None
        try:
            labels = read_label_png(path)
        except (OSError, ValueError, SyntaxError) as exc:   # PIL: unknown format, cut short, corrupt
            log.error(f"mask cannot be read ({exc})", path)
            return None
        if labels.shape != size:
            log.error(f"mask is {labels.shape[1]}x{labels.shape[0]}, frame is {size[1]}x{size[0]}", path)
        return labels
