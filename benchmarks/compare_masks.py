"""Compare the masks of two annotate runs, row by row: are they byte-identical?

    .venv/bin/python benchmarks/compare_masks.py RUN_A RUN_B [--out result.json]

Rows are matched by (sequence, track, frame); the RLE strings are compared
exactly, and where they differ the masks are decoded and the differing pixels
counted.  Used to show that a refactor or a speed change left the masks unchanged
(or by how many pixels it changed them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.provenance import provenance  # noqa: E402
from box2mask.atomic import atomic_write_json  # noqa: E402
from box2mask.shards import iter_rows  # noqa: E402


def masks(run: Path) -> dict[tuple, tuple[str | None, int, int]]:
    columns = ["sequence", "track_id", "frame_index", "rle", "height", "width"]
    return {(r["sequence"], r["track_id"], r["frame_index"]): (r["rle"], r["height"], r["width"])
            for r in iter_rows(run, columns=columns)}


def pixels_differ(a: tuple[str | None, int, int], b: tuple[str | None, int, int]) -> int:
    """Pixels where two rows' masks differ (a missing mask counts as empty)."""
    from box2mask.masks.rle import decode

    def dense(row):
        counts, h, w = row
        return np.zeros((h, w), bool) if counts is None else decode({"size": [h, w], "counts": counts})

    return int(np.count_nonzero(dense(a) != dense(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    a, b = masks(args.a), masks(args.b)
    differ = sorted(k for k in a.keys() & b.keys() if a[k][0] != b[k][0])
    pixels = sum(pixels_differ(a[k], b[k]) for k in differ)
    total = sum(h * w for k, (_, h, w) in a.items() if k in b)
    result = {"rows_a": len(a), "rows_b": len(b), "only_a": len(a.keys() - b.keys()),
              "only_b": len(b.keys() - a.keys()), "differ": len(differ), "first_differences": differ[:10],
              "pixels_differ": pixels, "pixels_compared": total,
              "identical": not differ and a.keys() == b.keys(), "provenance": provenance()}
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}))
    if args.out:
        atomic_write_json(args.out, result)
    raise SystemExit(0 if result["identical"] else 1)


if __name__ == "__main__":
    main()
