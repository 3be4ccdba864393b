"""CPU cost of each box-supervised loss, forward + backward, at the training batch shape.

Run on one core:  taskset -c 0 .venv/bin/python benchmarks/bench_losses.py
Writes benchmarks/results/losses_cpu.json (median/min wall ms and median CPU ms per loss and box size).

The input is synthetic but not trivial: a smooth random colour field, each frame moved 2 px
from the last plus a little noise, so the colour and temporal terms find real pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from box2mask.atomic import atomic_write_json
from box2mask.losses import (
    motion_affinity_loss,
    pairwise_colour_loss,
    projection_loss,
    rgb_to_lab,
    temporal_loss,
)

RESULT = Path(__file__).parent / "results" / "losses_cpu.json"


def make_batch(b: int, t: int, size: int, box_side: int, *, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(b, 3, size // 8, size // 8, generator=generator)
    field = F.interpolate(coarse, size=(size + 2 * t, size + 2 * t), mode="bilinear", align_corners=False)
    frames = torch.stack([field[..., 2 * k : 2 * k + size, 2 * k : 2 * k + size] for k in range(t)], dim=1)
    frames = (frames + 0.01 * torch.randn(frames.shape, generator=generator)).clamp(0, 1)
    lab = rgb_to_lab(frames)
    box = torch.zeros(b, t, 1, size, size)
    start = (size - box_side) // 2
    box[..., start : start + box_side, start : start + box_side] = 1.0
    motion_coarse = torch.rand(b * t, 1, size // 16, size // 16, generator=generator)
    motion = F.interpolate(motion_coarse, size=(size, size), mode="bilinear", align_corners=False)
    return lab, box, motion.reshape(b, t, 1, size, size)


def time_loss(fn, shape, *, repeats: int, warmup: int = 2) -> dict[str, float]:
    """Wall time and this process's CPU time: on a shared machine the CPU time is the steadier
    estimate of the cost (it leaves out time spent descheduled)."""
    wall, cpu = [], []
    for i in range(warmup + repeats):
        logits = torch.randn(shape, requires_grad=True)
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(logits).backward()
        if i >= warmup:
            wall.append(1000.0 * (time.perf_counter() - start))
            cpu.append(1000.0 * (time.process_time() - start_cpu))
    return {
        "median_ms": round(statistics.median(wall), 2),
        "min_ms": round(min(wall), 2),
        "median_cpu_ms": round(statistics.median(cpu), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    b, t, size = 4, 3, 128
    shape = (b, t, 1, size, size)
    results = {}
    for box_side in (64, 128):  # a box of a quarter of the crop; a box filling it (worst case)
        lab, box, motion = make_batch(b, t, size, box_side)
        flat_lab, flat_box, flat_motion = lab.flatten(0, 1), box.flatten(0, 1), motion.flatten(0, 1)
        cases = {
            "projection": lambda x: projection_loss(x.flatten(0, 1), flat_box),
            "pairwise": lambda x: pairwise_colour_loss(x.flatten(0, 1), flat_lab, flat_box),
            "affinity": lambda x: motion_affinity_loss(x.flatten(0, 1), flat_lab, flat_motion, flat_box),
            "temporal": lambda x: temporal_loss(x, lab, box),
            "temporal_no_detach": lambda x: temporal_loss(x, lab, box, detach=False),
        }
        results[f"box{box_side}"] = {name: time_loss(fn, shape, repeats=args.repeats) for name, fn in cases.items()}
    payload = {
        "what": "forward+backward ms per call (wall and process CPU), B=4 T=3 128x128, default settings",
        "threads": torch.get_num_threads(),
        "affinity_cpus": sorted(os.sched_getaffinity(0)),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "load_average_1m": os.getloadavg()[0],
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, payload)
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
