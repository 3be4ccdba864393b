"""Motion stage on davis16-dev: the four configurations of the paper's Table 6, speed and accuracy.

For each configuration (none, bf, bf-bdf, full; plus ``raw``, no camera
compensation at all, as a reference) a child process pinned to one core with
``cv2.setNumThreads(1)`` streams the maps of all sequences and reports

* frames/s of the stream itself (decode + registration + maps; the time spent
  inside the generator, wall clock and CPU time),
* foreground-pixel precision, recall and F1 by the paper's protocol: the map
  (normalised to [0, 1] per frame, see docs/motion.md) is resized bilinearly to
  the mask resolution and pixels > 0.5 are foreground; the masks are read only
  here, for scoring.  Pooled two ways: micro (all pixels of all frames) and the
  mean over frames (frames with no predicted pixel are left out of the mean
  precision, frames with an empty mask out of the mean recall).

Then the whole command ``taskset -c 0 box2mask motion --dataset davis ...
--config full`` is timed end to end (process start, dataset reading, decode,
maps, PNG encode and atomic writes) into a fresh folder, ``--repeat`` times, and
its PNGs are scored the same way.  Wall-clock figures on a shared machine are
lower than what the core can do; the CPU-time figures (user + sys of the child)
are reported beside them with the load average before and after.

    .venv/bin/python benchmarks/motion.py --data ../shared/data/davis16-dev
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONFIGS = ("none", "bf", "bf-bdf", "full", "raw")


SWEEP = (  # one change at a time from the full configuration: how the documented constants were chosen
    {}, {"norm_quantile": 0.95}, {"norm_quantile": 0.99}, {"norm_quantile": 0.999}, {"norm_floor": 10.0},
    {"norm_floor": 40.0}, {"tau2": 10.0}, {"tau2": 50.0}, {"colour_space": "gray"}, {"chroma_weight": 0.5},
    {"pre_blur": 0}, {"post_blur": 0}, {"post_blur": 9}, {"method": "magsac"},
)


def _config(name: str, overrides: dict | None = None):
    from box2mask.motion.config import MotionConfig, preset

    if name == "raw":
        config = MotionConfig(name="raw", compensate=False, box_filter=False, bidirectional=False, temporal=False)
    else:
        config = preset(name)
    return config.with_(**(overrides or {}))


class Scores:
    """Pixel counts pooled over all frames, and per-frame P/R/F1 for the mean over frames."""

    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0
        self.frame_p: list[float] = []
        self.frame_r: list[float] = []
        self.frame_f: list[float] = []
        self.per_sequence: dict[str, list[int]] = {}

    def add(self, seq: str, motion, mask) -> None:
        import cv2

        up = cv2.resize(motion, (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_LINEAR)
        pred = up > 0.5
        tp = int((pred & mask).sum())
        fp = int((pred & ~mask).sum())
        fn = int((~pred & mask).sum())
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn
        s = self.per_sequence.setdefault(seq, [0, 0, 0])
        s[0] += tp
        s[1] += fp
        s[2] += fn
        p = tp / (tp + fp) if tp + fp else None
        r = tp / (tp + fn) if tp + fn else None
        if p is not None:
            self.frame_p.append(p)
        if r is not None:
            self.frame_r.append(r)
        self.frame_f.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)

    def summary(self) -> dict:
        p = self.tp / max(self.tp + self.fp, 1)
        r = self.tp / max(self.tp + self.fn, 1)
        mean = lambda v: sum(v) / len(v) if v else None  # noqa: E731
        return {
            "micro": {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-12), 4)},
            "mean_over_frames": {"precision": round(mean(self.frame_p), 4), "recall": round(mean(self.frame_r), 4),
                                 "f1": round(mean(self.frame_f), 4),
                                 "frames_without_prediction": len(self.frame_f) - len(self.frame_p)},
            "per_sequence_precision": {k: round(v[0] / max(v[0] + v[1], 1), 3) for k, v in self.per_sequence.items()},
        }


def child_config(name: str, data: str, overrides: dict | None = None) -> None:
    """Child process (one core): stream every sequence's maps, time the stream, score against the masks."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import cv2

    from box2mask.datasets import open_dataset
    from box2mask.motion.stream import motion_maps

    cv2.setNumThreads(1)
    config = _config(name, overrides)
    reader = open_dataset("davis", data)
    scores = Scores()
    wall = cpu = 0.0
    frames = fallbacks = 0
    for seq_id in reader.sequence_ids():
        seq = reader.load(seq_id)
        masks = reader.masks(seq)
        stream = motion_maps(seq, config=config)
        while True:
            w0, c0 = time.perf_counter(), time.process_time()
            frame = next(stream, None)
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
            if frame is None:
                break
            frames += 1
            fallbacks += frame.diagnostics.fallback is not None
            if masks[frame.index] is not None:
                scores.add(seq_id, frame.map, masks[frame.index] > 0)
    print(json.dumps({"config": config.to_dict(), "frames": frames, "frames_with_fallback": fallbacks,
                      "stream_seconds_wall": round(wall, 3), "stream_seconds_cpu": round(cpu, 3),
                      "fps_one_core_wall": round(frames / wall, 1), "fps_one_core_cpu": round(frames / cpu, 1),
                      **scores.summary()}))


def score_pngs(out: Path, data: str) -> dict:
    """P/R/F1 of the PNGs a CLI run wrote (8-bit maps, > 0.5 means >= 128)."""
    from box2mask.datasets import open_dataset
    from box2mask.motion.output import read_map_png

    reader = open_dataset("davis", data)
    scores = Scores()
    for seq_id in reader.sequence_ids():
        seq = reader.load(seq_id)
        for i, mask in enumerate(reader.masks(seq)):
            if mask is not None:
                scores.add(seq_id, read_map_png(out / seq_id / f"{seq.frame_stem(i)}.png"), mask > 0)
    s = scores.summary()
    s.pop("per_sequence_precision")
    return s


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_cli(data: str, out: Path, core: int) -> dict:
    if out.exists():
        shutil.rmtree(out)
    exe = str(REPO / ".venv" / "bin" / "box2mask")
    cmd = ["taskset", "-c", str(core), exe, "motion", "--dataset", "davis", "--root", data, "--out", str(out),
           "--config", "full"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = loadavg()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"CLI failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    frames = len(list(out.glob("*/*.png")))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"command": " ".join(cmd[:4] + ["motion"] + cmd[5:]), "frames": frames, "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2), "fps_wall": round(frames / wall, 1), "fps_cpu": round(frames / cpu, 1),
            "load_before": load0, "load_after": loadavg()}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_child(name: str, data: str, overrides: dict | None = None) -> dict:
    load0 = loadavg()
    proc = subprocess.run([sys.executable, __file__, "--data", data, "--child", name, "--set",
                           json.dumps(overrides or {})], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"config {name} {overrides or ''} failed:\n{proc.stderr[-2000:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["load_before"], row["load_after"] = load0, loadavg()
    return row


def sweep(data: str, out: Path) -> None:
    rows = []
    for change in SWEEP:
        row = run_child("full", data, change)
        m, f = row["micro"], row["mean_over_frames"]
        rows.append({"change": change, "micro": m, "mean_over_frames": f})
        print(f"{json.dumps(change) or 'defaults':32s} P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f} | "
              f"per-frame mean P {f['precision']:.3f} R {f['recall']:.3f} F1 {f['f1']:.3f}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"data": data, "base": "full", "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "davis16-dev"))
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--repeat", type=int, default=2, help="CLI end-to-end runs (each into a fresh folder)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/b2m-motion-bench"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "motion.json")
    parser.add_argument("--sweep", action="store_true",
                        help="instead: P/R/F1 of the full configuration with one constant changed at a time "
                             "(writes benchmarks/results/motion_sweep.json)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--set", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_config(args.child, args.data, json.loads(args.set))
        return
    if args.sweep:
        sweep(args.data, args.out.with_name("motion_sweep.json") if args.out.name == "motion.json" else args.out)
        return
    if not Path(args.data, "JPEGImages").is_dir():
        raise SystemExit(f"no DAVIS data at {args.data}")
    core = sorted(os.sched_getaffinity(0))[0]
    result = {"data": str(args.data), "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "pinned_core": core,
                                                 "python": platform.python_version()},
              "protocol": "map resized bilinearly to the mask, foreground = map > 0.5; micro = pooled pixels",
              "configs": {}, "cli": {}}
    for name in args.configs.split(","):
        row = run_child(name, args.data)
        load0 = row["load_before"]
        result["configs"][name] = row
        m = row["micro"]
        print(f"{name:7s} fps(1 core) wall {row['fps_one_core_wall']:6.1f} cpu {row['fps_one_core_cpu']:6.1f}  "
              f"P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}  load {load0}", flush=True)
    if args.repeat > 0:
        runs = []
        for k in range(args.repeat):
            run = run_cli(args.data, args.work / "cli-full", core)
            runs.append(run)
            print(f"CLI full run {k + 1}: {run['frames']} frames, wall {run['wall_seconds']} s ({run['fps_wall']} "
                  f"frames/s), cpu {run['cpu_seconds']} s ({run['fps_cpu']} frames/s), load {run['load_before']} -> "
                  f"{run['load_after']}", flush=True)
        result["cli"] = {"runs": runs, "scores_from_pngs": score_pngs(args.work / "cli-full", args.data)}
        print("CLI PNG scores:", json.dumps(result["cli"]["scores_from_pngs"]["micro"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
