"""Build the box-only training data for the shipped weights.

    .venv/bin/python benchmarks/prepare_training_data.py --out /work/data/train

Writes, outside the repository:
* ``davis-boxes/train/``: the non-held-out davis16-dev sequences in GOT-10k layout,
  frames linked and ``groundtruth.txt`` holding the masks' tight boxes.  No mask
  file is written or linked: training on this folder cannot see a mask.
* ``synthetic/train/``: synthetic videos (box2mask.synthetic) in GOT-10k layout;
  their truth masks go to ``synthetic/truth`` and are never read by training.
The real LaSOT sequence is used in place (boxes only by nature).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from box2mask.atomic import atomic_write_text
from box2mask.datasets import open_dataset
from box2mask.synthetic.video import SyntheticSpec, write_got10k

try:
    from benchmarks.heldout import split
except ImportError:  # run as a script from the repo root
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.heldout import split


def davis_to_got10k_boxes(davis: Path, dest: Path, ids: list[str]) -> Path:
    reader = open_dataset("davis", davis)
    split_dir = dest / "train"
    names = []
    for seq_id in ids:
        seq = reader.load(seq_id)
        track = seq.tracks[0]
        folder = split_dir / seq_id
        folder.mkdir(parents=True, exist_ok=True)
        lines, absence, cover = [], [], []
        for i, frame in enumerate(seq.frames, start=1):
            link = folder / f"{i:08d}.jpg"
            if not link.exists():
                os.symlink(frame.resolve(), link)
            box = track.boxes[i - 1]
            if track.visible[i - 1]:
                lines.append(f"{box[0]:.1f},{box[1]:.1f},{box[2] - box[0]:.1f},{box[3] - box[1]:.1f}")
                absence.append("0")
                cover.append("8")
            else:
                lines.append("0,0,0,0")
                absence.append("1")
                cover.append("0")
        atomic_write_text(folder / "groundtruth.txt", "\n".join(lines) + "\n")
        atomic_write_text(folder / "absence.label", "\n".join(absence) + "\n")
        atomic_write_text(folder / "cover.label", "\n".join(cover) + "\n")
        atomic_write_text(folder / "meta_info.ini", f"[METAINFO]\nobject_class: {seq_id.split('-')[0]}\n")
        names.append(seq_id)
    atomic_write_text(split_dir / "list.txt", "\n".join(names) + "\n")
    return split_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--davis", type=Path, default=Path("../shared/data/davis16-dev"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--synthetic", type=int, default=40, help="number of synthetic videos")
    args = parser.parse_args()
    ids = open_dataset("davis", args.davis).sequence_ids()
    train_ids, held = split(ids)
    print("train:", train_ids)
    print("held out:", held)
    print(davis_to_got10k_boxes(args.davis, args.out / "davis-boxes", train_ids))
    spec = SyntheticSpec(num_sequences=args.synthetic, num_frames=40, height=360, width=640, seed=7)
    print(write_got10k(args.out / "synthetic", spec))


if __name__ == "__main__":
    main()
