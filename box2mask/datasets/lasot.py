"""LaSOT in its native layout.

::

    <root>/<category>/<category>-<n>/
        img/00000001.jpg ...
        groundtruth.txt          x,y,w,h per frame
        full_occlusion.txt       one comma-separated line of 0/1 flags
        out_of_view.txt          one comma-separated line of 0/1 flags
        nlp.txt                  a sentence describing the target
    <root>/training_set.txt, <root>/testing_set.txt   (optional official split lists)

A frame is visible when it is neither fully occluded nor out of view and its box
is usable.  With ``split`` set, only the sequences of that official list are read
(an error if the list is absent); without it every sequence found is read.  Every
entry must be a plain name whose folder lies inside the root
(:mod:`box2mask.datasets.entries`); one listed twice is read once, with a warning.
"""

from __future__ import annotations

from pathlib import Path

from box2mask.datasets.entries import Listing, check_inside, entry_name, listing_from_file, listing_from_folders
from box2mask.datasets.validation import (
    ProblemLog,
    finalize_boxes,
    frames_and_boxes,
    parse_flags,
    present,
    read_lines,
)
from box2mask.errors import DatasetError
from box2mask.structures import Problem, Sequence, Track

SPLIT_FILES = {"train": "training_set.txt", "test": "testing_set.txt"}


class LasotReader:
    """Reads LaSOT sequences one at a time (see the module docstring for the layout)."""

    name = "lasot"

    def __init__(self, root: Path | str, *, split: str | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"LaSOT root {self.root} does not exist or is not a folder")
        if split is not None and split not in SPLIT_FILES:
            raise DatasetError(f"unknown LaSOT split {split!r}; choose one of {', '.join(SPLIT_FILES)}")
        self.split = split
        self._lists = self._read_split_lists()
        self._split_of, self._conflicts = _splits_of(self._lists)
        self._found: Listing | None = None

    def _read_split_lists(self) -> dict[str, Listing]:
        lists: dict[str, Listing] = {}
        for split, name in SPLIT_FILES.items():
            path = self.root / name
            if present(path):
                lists[split] = listing_from_file(path)
        if self.split is not None and (self.split not in lists or not lists[self.split].entries):
            raise DatasetError(
                f"--split {self.split} needs {self.root / SPLIT_FILES[self.split]}, which is missing or empty"
            )
        return lists

    def listing(self) -> Listing:
        """The official list of ``split``, or (no split) the sequence folders found under the root."""
        if self.split is not None:
            return self._lists[self.split]
        if self._found is None:
            names = sorted(
                seq.name
                for cat in self.root.iterdir() if cat.is_dir()
                for seq in cat.iterdir() if seq.is_dir() and seq.name.startswith(cat.name + "-")
            )
            if not names:
                raise DatasetError(
                    f"{self.root} holds no LaSOT sequences (expected <category>/<category>-<n>/img/...)"
                )
            self._found = listing_from_folders(names)
        return self._found

    def sequence_ids(self) -> list[str]:
        return sorted(self.listing().ids())

    def load(self, seq_id: str) -> Sequence:
        log = ProblemLog(seq_id)
        listing = self.listing()
        name = entry_name(listing, seq_id, log, where=self.root)
        if seq_id in self._conflicts:
            log.add(self._conflicts[seq_id])
        category = name.rsplit("-", 1)[0]
        folder = self.root / category / name
        check_inside(listing, seq_id, folder, self.root, log)
        if not folder.is_dir():
            log.error("sequence folder does not exist", folder)
            log.raise_if_errors()
        gt_path = folder / "groundtruth.txt"
        frames, (height, width), xywh = frames_and_boxes(folder / "img", gt_path, log)
        n = len(frames)
        if xywh.shape[0] != n:
            log.error(f"has {xywh.shape[0]} box lines for {n} frames", gt_path)
        occluded = parse_flags(folder / "full_occlusion.txt", log, n=n, allowed=range(0, 2), default=0, one_row=True)
        out_of_view = parse_flags(folder / "out_of_view.txt", log, n=n, allowed=range(0, 2), default=0, one_row=True)
        sentence = read_lines(folder / "nlp.txt", log, required=False)
        if sentence is None and not (folder / "nlp.txt").exists():
            log.warn("file is missing; no sentence recorded", folder / "nlp.txt")
        log.raise_if_errors()

        present = (occluded == 0) & (out_of_view == 0)
        boxes, visible = finalize_boxes(xywh, present, height=height, width=width, log=log, file=gt_path)
        meta = {
            "class": category,
            "split": self._split_of.get(seq_id, "unknown"),
            "sentence": " ".join(s.strip() for s in (sentence or [])).strip(),
        }
        track = Track(1, boxes, visible, category=category,
                      flags={"full_occlusion": occluded, "out_of_view": out_of_view})
        return Sequence(
            id=seq_id, dataset=self.name, frames=tuple(frames), tracks=(track,),
            image_size=(height, width), meta=meta, warnings=log.warnings(),
        )


def _splits_of(lists: dict[str, Listing]) -> tuple[dict[str, str], dict[str, Problem]]:
    """Each listed sequence's split (the first list naming it wins) and a warning where two lists do."""
    split_of: dict[str, str] = {}
    first_entry = {}
    conflicts: dict[str, Problem] = {}
    for split, listing in lists.items():
        for entry in listing.entries:
            if entry.id not in split_of:
                split_of[entry.id], first_entry[entry.id] = split, entry
                continue
            first = first_entry[entry.id]
            conflicts[entry.id] = Problem(
                entry.id, f"is also listed in {Path(first.file).name} (line {first.line}); "
                f"its split is recorded as {split_of[entry.id]!r}", str(entry.file), entry.line, "warning")
    return split_of, conflicts
