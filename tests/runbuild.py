"""Build a run folder in-process (no Ray), in the documented layout, for tests and benchmarks.

dataset reader -> ``run_method`` -> ``shards.track_rows`` -> ``write_shard`` + manifest + run.json:
what ``box2mask annotate`` writes, without the cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from box2mask import __version__
from box2mask.datasets import open_dataset
from box2mask.datasets.manifest import build_manifest, write_manifest
from box2mask.datasets.sampling import sample_indices
from box2mask.methods import FrameMask, get_method, run_method
from box2mask.runs import RunInfo, RunPaths
from box2mask.shards import track_rows, write_shard
from box2mask.structures import Sequence


def build_run(dataset: str, root: Path | str, out: Path | str, *, method: str = "filled-box",
              ids: list[str] | None = None, every: int = 1, max_frames: int | None = None,
              sequences_per_shard: int = 2, split: str | None = None,
              transform: Callable[[Sequence, FrameMask], FrameMask] | None = None,
              options: dict | None = None) -> Path:
    """Annotate ``ids`` of ``dataset`` at ``root`` with ``method`` (built with ``options``) into ``out``;
    returns ``out``.

    ``transform(sequence, result)`` may replace each result (tests use it for masks of known shape).
    """
    out = Path(out)
    paths = RunPaths(out)
    reader = open_dataset(dataset, root, split=split)
    ids = reader.sequence_ids() if ids is None else ids
    write_manifest(build_manifest(reader, every=every, max_frames=max_frames, ids=ids), paths.manifest)
    model = get_method(method, **(options or {}))
    root = Path(getattr(reader, "root", root))
    RunInfo(dataset=dataset, root=str(Path(root).resolve()), version=__version__, method=method,
            split=split, config={"every": every, "max_frames": max_frames}).save(paths.run_json)
    for k in range(0, len(ids), sequences_per_shard):
        rows = []
        for seq_id in ids[k:k + sequences_per_shard]:
            seq = reader.load(seq_id)
            seq = seq.with_sampling(sample_indices(len(seq), every=every, max_frames=max_frames))
            for track in seq.tracks:
                results = run_method(model, seq, track)
                if transform is not None:
                    results = [transform(seq, r) for r in results]
                rows.extend(track_rows(seq, track, results, shard=f"{k:05d}", root=Path(root).resolve()))
        write_shard(paths.shard(f"{k:05d}"), rows)
    return out


def ellipse_in_box(sequence: Sequence, result: FrameMask, *, hidden: frozenset[int] = frozenset()) -> FrameMask:
    """Replace a filled-box mask by the ellipse inscribed in it (a non-rectangular shape with a
    known outline); frames in ``hidden`` become not visible."""
    import cv2
    import numpy as np

    if result.mask is None or result.frame in hidden:
        return FrameMask(result.track_id, result.frame, None, float("nan"))
    rows = np.flatnonzero(result.mask.any(axis=1))
    cols = np.flatnonzero(result.mask.any(axis=0))
    out = np.zeros(result.mask.shape, np.uint8)
    if rows.size:
        centre = (int((cols[0] + cols[-1]) // 2), int((rows[0] + rows[-1]) // 2))
        axes = (max(1, int((cols[-1] - cols[0]) // 2)), max(1, int((rows[-1] - rows[0]) // 2)))
        cv2.ellipse(out, centre, axes, 0, 0, 360, 1, -1)
    score = 0.2 + 0.1 * (result.frame % 8)   # varied confidences for --min-score tests
    return FrameMask(result.track_id, result.frame, out.astype(bool), score)


def write_folder_dataset(root: Path, *, frames: int = 6, size: tuple[int, int] = (96, 128)) -> Path:
    """A two-track, two-category sequence in the plain folder format (boxes only)."""
    import numpy as np
    from PIL import Image

    seq = root / "street"
    (seq / "frames").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = ["frame,x0,y0,x1,y1,visible,track_id,category"]
    for t in range(frames):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(seq / "frames" / f"{t:05d}.jpg")
        lines.append(f"{t:05d}.jpg,{4 + t},10,{40 + t},50,1,1,car")
        lines.append(f"{t:05d}.jpg,70,{20 + t},{110},{70 + t},{0 if t == 3 else 1},2,person")
    (seq / "boxes.csv").write_text("\n".join(lines) + "\n")
    return root


def truth_masks(truth_root: Path):
    """A transform giving each frame its synthetic truth mask (``<truth_root>/<seq>/<stem>.png``), confidence 1."""
    from box2mask.masks.png import read_label_png

    def transform(sequence: Sequence, result: FrameMask) -> FrameMask:
        if result.mask is None:
            return result
        labels = read_label_png(Path(truth_root) / sequence.id / f"{sequence.frame_stem(result.frame)}.png")
        return FrameMask(result.track_id, result.frame, labels == result.track_id, 1.0)

    return transform
