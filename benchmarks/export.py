"""Peak memory of `box2mask export` against the size of the run: it must not grow with the run.

Builds LaSOT airplane-1 runs with the filled-box method: all 2,788 frames
(``--every 1 --max-frames 0``), the LaSOT preset's 200 frames, and the 2,788-frame
run replicated into 50 sequences (139,400 masks, one shard each) to show the
streaming at scale.  Each export runs in a fresh process that reports its own
peak RSS (``ru_maxrss``) and its RSS after imports, so the figures do not mix.

    .venv/bin/python benchmarks/export.py [--work /tmp/b2m-export] [--copies 50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LASOT = REPO.parent / "shared" / "data" / "lasot"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(run: str, fmt: str, dest: str) -> None:
    """Child process: export and print peak RSS (MB), RSS after imports and the counts as JSON."""
    from box2mask.export import export_run

    baseline = rss_mb()
    start = time.perf_counter()
    stats = export_run(run, fmt, dest)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(p.stat().st_size for p in Path(dest).rglob("*") if p.is_file()) if Path(dest).is_dir() \
        else Path(dest).stat().st_size
    print(json.dumps({"peak_rss_mb": round(peak, 1), "rss_after_imports_mb": round(baseline, 1),
                      "peak_minus_imports_mb": round(peak - baseline, 1), "seconds": round(seconds, 2),
                      "masks": stats.masks, "frames": stats.frames, "sequences": stats.sequences,
                      "output_bytes": size}))


def replicate(run: Path, dest: Path, copies: int) -> Path:
    """``copies`` renamed copies of the run's single sequence, one shard each (same run.json)."""
    import shutil

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from box2mask.shards import SCHEMA, shard_paths

    (dest / "shards").mkdir(parents=True, exist_ok=True)
    shutil.copy(run / "run.json", dest / "run.json")
    table = pq.read_table(shard_paths(run)[0], schema=SCHEMA)
    for k in range(copies):
        renamed = table.set_column(table.schema.get_field_index("sequence"), "sequence",
                                   pc.binary_join_element_wise(table["sequence"], pa.scalar(f"-copy{k:03d}"), ""))
        pq.write_table(renamed, dest / "shards" / f"{k:05d}.parquet", compression="zstd")
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/b2m-export-bench"))
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "export.json")
    parser.add_argument("--measure", nargs=3, metavar=("RUN", "FORMAT", "DEST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return

    from tests.runbuild import build_run

    runs = {}
    timings = {}
    for name, every, max_frames in (("lasot-200", 5, 200), ("lasot-2788", 1, None)):
        path = args.work / name
        if not (path / "shards").is_dir():
            start = time.perf_counter()
            build_run("lasot", LASOT, path, ids=["airplane-1"], every=every, max_frames=max_frames)
            timings[f"build_{name}_s"] = round(time.perf_counter() - start, 1)
        runs[name] = path
    name = f"lasot-2788x{args.copies}"
    if not (args.work / name / "shards").is_dir():
        replicate(runs["lasot-2788"], args.work / name, args.copies)
    runs[name] = args.work / name

    results = {}
    for run_name, run in runs.items():
        for fmt in ("coco", "ytvis", "davis"):
            if fmt == "davis" and "x" in run_name:
                continue                    # 139k PNG files: skipped to spare the shared disk
            dest = args.work / "out" / f"{run_name}.{fmt}" / ("export.json" if fmt != "davis" else "")
            proc = subprocess.run([sys.executable, __file__, "--measure", str(run), fmt, str(dest)],
                                  capture_output=True, text=True, check=True, env=dict(os.environ))
            results[f"{run_name}/{fmt}"] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(run_name, fmt, results[f"{run_name}/{fmt}"], flush=True)
    out = {"benchmark": "export peak RSS", "method": "filled-box", "sequence": "lasot airplane-1 (640x360)",
           "results": results, **timings, "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
           f"Python {platform.python_version()}", "note": "shared machine; other jobs were running"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
