"""Ground-truth masks to score a run against: DAVIS folders, COCO or YouTube-VIS JSON.

Every kind answers the same two questions: which sequences it has, and, per
sequence, each frame's stem with a ``{object id: (H, W) bool}`` dict (and the
void pixels, DAVIS's 255).  Predictions are matched by sequence name, frame
file stem and object id (= track id).

How a JSON ground truth names things: a COCO image's sequence is its
``sequence`` key, else the ``name`` of its ``video_id``'s video, else the folder
of its ``file_name``; the object is the annotation's ``track_id``, else
``instance_id``, else 1.  A YouTube-VIS video's name is its ``name`` key, else
the folder of its first file; the object is ``track_id``, else the annotation id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np
from pycocotools import mask as mask_utils

from box2mask.errors import Box2MaskError
from box2mask.masks.png import VOID_LABEL, read_label_png


class GroundTruthError(Box2MaskError):
    """The ground truth cannot be read or its kind cannot be told."""


@dataclass
class GtFrame:
    """One ground-truth frame: ``masks`` maps object id -> ``(H, W) bool``; ``void`` may be ``None``."""

    stem: str
    masks: dict[int, np.ndarray]
    void: np.ndarray | None = None


class GroundTruth(Protocol):
    kind: str

    def sequence_ids(self) -> list[str]: ...

    def object_ids(self, seq: str) -> list[int]: ...

    def frames(self, seq: str) -> Iterator[GtFrame]: ...


class DavisGroundTruth:
    """``<root>/Annotations/[<resolution>/]<sequence>/<stem>.png`` (palette ids, or any nonzero = 1)."""

    kind = "davis"

    def __init__(self, root: Path | str, *, resolution: str = "480p"):
        root = Path(root)
        ann = root / "Annotations"
        if not ann.is_dir():
            raise GroundTruthError(f"{root} has no Annotations/ folder")
        if (ann / resolution).is_dir() and not any((ann / resolution).glob("*.png")):
            ann = ann / resolution
        self.folder = ann
        self._ids: dict[str, list[int]] = {}

    def sequence_ids(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and any(p.glob("*.png")))

    def _paths(self, seq: str) -> list[Path]:
        return sorted((self.folder / seq).glob("*.png"))

    def object_ids(self, seq: str) -> list[int]:
        if seq not in self._ids:
            ids: set[int] = set()
            for path in self._paths(seq):
                ids.update(int(v) for v in np.unique(read_label_png(path)))
            self._ids[seq] = sorted(ids - {0, VOID_LABEL})
        return self._ids[seq]

    def frames(self, seq: str) -> Iterator[GtFrame]:
        objects = self.object_ids(seq)
        for path in self._paths(seq):
            labels = read_label_png(path)
            void = labels == VOID_LABEL
            yield GtFrame(path.stem, {o: labels == o for o in objects}, void if void.any() else None)


def decode_segmentation(seg, height: int, width: int) -> np.ndarray:
    """``(H, W) bool`` from a COCO segmentation: RLE (str/bytes counts), uncompressed RLE or polygons."""
    if isinstance(seg, dict):
        counts = seg["counts"]
        if isinstance(counts, list):
            rle = mask_utils.frPyObjects(seg, height, width)
        else:
            rle = {"size": list(seg["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    else:
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    return mask_utils.decode(rle).astype(bool)


@dataclass
class _JsonSequence:
    stems: list[str] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)
    # stem -> list of (object id, segmentation)
    segs: dict[str, list] = field(default_factory=dict)


class _JsonGroundTruth:
    kind = "json"

    def __init__(self) -> None:
        self._seqs: dict[str, _JsonSequence] = {}

    def sequence_ids(self) -> list[str]:
        return sorted(self._seqs)

    def object_ids(self, seq: str) -> list[int]:
        s = self._seqs[seq]
        return sorted({obj for segs in s.segs.values() for obj, _ in segs})

    def frames(self, seq: str) -> Iterator[GtFrame]:
        s = self._seqs[seq]
        objects = self.object_ids(seq)
        h, w = s.size
        for stem in s.stems:
            masks = {o: np.zeros((h, w), bool) for o in objects}
            for obj, seg in s.segs.get(stem, []):
                masks[obj] |= decode_segmentation(seg, h, w)
            yield GtFrame(stem, masks)


class CocoGroundTruth(_JsonGroundTruth):
    kind = "coco"

    def __init__(self, data: dict):
        super().__init__()
        videos = {v["id"]: v.get("name") for v in data.get("videos", [])}
        where: dict[int, tuple[str, str]] = {}
        for image in sorted(data["images"], key=lambda im: (im.get("frame_index", 0), im["file_name"])):
            path = Path(image["file_name"])
            seq = image.get("sequence") or videos.get(image.get("video_id")) or path.parent.name
            s = self._seqs.setdefault(seq, _JsonSequence(size=(int(image["height"]), int(image["width"]))))
            s.stems.append(path.stem)
            where[image["id"]] = (seq, path.stem)
        for ann in data["annotations"]:
            if ann.get("iscrowd"):
                continue
            seq, stem = where[ann["image_id"]]
            obj = int(ann.get("track_id") or ann.get("instance_id") or 1)
            self._seqs[seq].segs.setdefault(stem, []).append((obj, ann["segmentation"]))


class YtvisGroundTruth(_JsonGroundTruth):
    kind = "ytvis"

    def __init__(self, data: dict):
        super().__init__()
        names: dict[int, str] = {}
        for video in data["videos"]:
            files = [Path(f) for f in video["file_names"]]
            seq = video.get("name") or files[0].parent.name
            names[video["id"]] = seq
            self._seqs[seq] = _JsonSequence([f.stem for f in files], (int(video["height"]), int(video["width"])))
        for ann in data["annotations"]:
            if ann.get("iscrowd"):
                continue
            s = self._seqs[names[ann["video_id"]]]
            obj = int(ann.get("track_id") or ann["id"])
            for stem, seg in zip(s.stems, ann["segmentations"]):
                if seg is not None:
                    s.segs.setdefault(stem, []).append((obj, seg))


def open_groundtruth(path: Path | str) -> GroundTruth:
    """Pick the reader from what ``path`` is: a folder with ``Annotations/``, or COCO / YouTube-VIS JSON."""
    path = Path(path)
    if path.is_dir():
        return DavisGroundTruth(path)
    if not path.is_file():
        raise GroundTruthError(f"ground truth {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GroundTruthError(f"{path} is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise GroundTruthError(f"{path}: expected a JSON object with images/videos and annotations")
    annotations = data.get("annotations") or []
    if "videos" in data and (not annotations or "segmentations" in annotations[0]):
        return YtvisGroundTruth(data)
    if "images" in data and "annotations" in data:
        return CocoGroundTruth(data)
    raise GroundTruthError(f"{path} is neither COCO (images + annotations) nor YouTube-VIS (videos + "
                           "annotations with segmentations)")
