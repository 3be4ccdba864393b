"""3-fold cross-validation of the box-to-mask network over davis16-dev (benchmarks/folds.py).

    # once: box-only training data, motion maps and GrabCut teachers, outside the repository
    .venv/bin/python benchmarks/cv.py prepare --work /work/cv
    # per fold and recipe: train on the other 12 sequences' boxes (resumes where it stopped)
    .venv/bin/python benchmarks/cv.py train --work /work/cv --recipe r1 --fold A
    # score a fold's own 6 sequences with that fold's weights (masks read here only)
    .venv/bin/python benchmarks/cv.py score --work /work/cv --recipe r1 --fold A --variants T5,T1 \
        --out benchmarks/results/cv/r1-A.json
    # the fold table from the JSON files
    .venv/bin/python benchmarks/cv.py table benchmarks/results/cv/*.json

Training never sees a mask: the davis16-dev sequences go in as box-only GOT-10k
folders (frames linked, ``groundtruth.txt`` = the masks' tight boxes, no mask
file), one folder per fold holding only that fold's 12 training sequences.  The
teacher is GrabCut run on the same boxes.  Every results JSON records the
commit, the weights' SHA-256, the command and the date (benchmarks/provenance.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.folds import FOLDS, all_sequences, split  # noqa: E402
from benchmarks.network import evaluate, parse_variant  # noqa: E402
from benchmarks.prepare_training_data import davis_to_got10k_boxes  # noqa: E402
from benchmarks.provenance import provenance  # noqa: E402
from box2mask.atomic import atomic_write_json  # noqa: E402

BIN = Path(sys.executable).parent
LOSSES = "teacher=0.5,pairwise=0.4,affinity=0.3,temporal=0.3"

# A recipe is the `box2mask train` options of one fold run, from the ImageNet backbone alone
# (or from another recipe's weights of the same fold: RECIPE_INIT).
RECIPES: dict[str, list[str]] = {
    # today's shipped wiring in one stage: decoder without m_t, supports dropped at 0.3
    # (600 steps: what three folds cost in one session on one CPU thread; LaSOT without a teacher)
    "r1": ["--iterations", "600", "--no-object-path", "--support-dropout", "0.3", "--loss-weights", LOSSES],
    # r1 + the teacher's boundary band (3 crop px each side) left out of the teacher loss (issue 12, item 4)
    "r2-band": ["--iterations", "600", "--no-object-path", "--support-dropout", "0.3", "--loss-weights", LOSSES,
                "--teacher-band", "3"],
    # r1 continued: 900 more steps at lr 3e-4 from that fold's r1 weights (does length matter?)
    "r1-ft": ["--iterations", "900", "--lr", "3e-4", "--no-object-path", "--support-dropout", "0.3",
              "--loss-weights", LOSSES],
    # r1 with the EMA teacher (issue 12, item 4): from step 300 the target is the EMA network's masks
    # averaged with the student's and sharpened by the box CRF instead of GrabCut's; momentum 0.99
    # (not MAL's 0.996: at 600 steps an average over ~250 steps would still hold the untrained start)
    "r3-ema": ["--iterations", "600", "--no-object-path", "--support-dropout", "0.3", "--loss-weights", LOSSES,
               "--ema-teacher", "0.99", "--ema-start", "300"],
    # r1 on the EfficientNet-Lite2 backbone instead of Lite0 (issue 12, item 5)
    "r4-lite2": ["--iterations", "600", "--no-object-path", "--support-dropout", "0.3", "--loss-weights", LOSSES,
                 "--backbone", "lite2"],
    # r4-lite2 trained long (issue 12: "choose with shorter runs, train the final weights long"): 2,000 steps,
    # run on fold B, whose 12 training sequences are those the Lite0 chain `mf1` (5,000 steps) trained on,
    # so that fold B compares the two at length; the shipped Lite2 weights continue from its fold-B run
    "r6-lite2-2k": ["--iterations", "2000", "--no-object-path", "--support-dropout", "0.3", "--loss-weights", LOSSES,
                    "--backbone", "lite2"],
    # r1 with the backbone's last 3 blocks before stride 16 (Lite0's stage 5) trained at 0.1 x lr (item 5)
    "r5-tune3": ["--iterations", "600", "--no-object-path", "--support-dropout", "0.3", "--loss-weights", LOSSES,
                 "--tune-backbone", "3"],
    # the shipped chain's second stage (benchmarks/train_shipped.sh): 1,200 steps at lr 3e-4, no warm-up, from
    # r6-lite2-2k's weights of the same fold; with --fold all it trains on all 18 from fold B's r6-lite2-2k run
    "r6-ft": ["--iterations", "1200", "--lr", "3e-4", "--warmup", "0", "--no-object-path", "--support-dropout", "0.3",
              "--loss-weights", LOSSES],
    # r4-lite2 with a blended teacher (issue 12, item 4: a better teacher than GrabCut): on the DAVIS boxes the
    # target is the mean of GrabCut's masks and those of the fold's r4-lite2 weights (RECIPE_TEACHER), soft where
    # they disagree -- what `annotate --adapt` does by default, here on the 12 training sequences, from ImageNet
    # (measured 2026-12-04: no gain over its r4-lite2 control; docs/benchmarks.md)
    "r7-blend": ["--iterations", "600", "--no-object-path", "--support-dropout", "0.3", "--loss-weights", LOSSES,
                 "--backbone", "lite2"],
    # r6-lite2-2k's fold weights fine-tuned at the inference crop (320 px, not 192): 300 steps at lr 3e-4, no
    # warm-up (does the train/test crop mismatch cost J&F?); about 2.8x the step time of 192 px (not yet run)
    "r8-ft320": ["--iterations", "300", "--lr", "3e-4", "--warmup", "0", "--crop-size", "320", "--no-object-path",
                 "--support-dropout", "0.3", "--loss-weights", LOSSES],
}
# A recipe that starts from another recipe's weights of the same fold.
RECIPE_INIT: dict[str, str] = {"r1-ft": "r1", "r6-ft": "r6-lite2-2k", "r8-ft320": "r6-lite2-2k"}
# With `--fold all` (the boxes of all 18 sequences: shipped weights, nothing left to score) such a recipe starts
# from the base recipe's run on this fold, the run the shipped chain started from.
ALL_INIT_FOLD = "B"
# A recipe whose teacher adds a network's masks to GrabCut's: those of another recipe's weights of the same fold
# on the boxes that fold trains on (`box2mask annotate` at those weights' defaults; boxes only, no mask is read).
RECIPE_TEACHER: dict[str, str] = {"r7-blend": "r4-lite2"}


def _run(cmd: list[str], *, threads: int | None = None) -> None:
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def prepare(work: Path, davis: Path, lasot: Path, synthetic: int) -> None:
    from box2mask.datasets import open_dataset
    from box2mask.synthetic.video import SyntheticSpec, write_got10k

    reader = open_dataset("davis", davis)
    missing = set(all_sequences()) - set(reader.sequence_ids())
    if missing:
        raise SystemExit(f"{davis}: missing fold sequences {sorted(missing)}")
    data = work / "data"
    every = davis_to_got10k_boxes(davis, data / "davis-all", all_sequences())
    for fold in FOLDS:
        davis_to_got10k_boxes(davis, data / f"fold-{fold}", split(fold)[0])
        # the fold's own 6 sequences, boxes only: what `annotate --adapt` adapts on and annotates
        davis_to_got10k_boxes(davis, data / f"test-{fold}", split(fold)[1])
    synth_root = data / "synthetic" / "train"
    if not (synth_root / "list.txt").is_file():
        write_got10k(data / "synthetic", SyntheticSpec(num_sequences=synthetic, num_frames=40, height=360,
                                                        width=640, seed=7))
    b2m = str(BIN / "box2mask")
    _run([b2m, "motion", "-d", "got10k", "-r", str(every), "--out", str(work / "motion")])
    _run([b2m, "motion", "-d", "lasot", "-r", str(lasot), "--every", "1", "--max-frames", "0",
          "--out", str(work / "motion")])
    _run([b2m, "motion", "-d", "got10k", "-r", str(synth_root), "--out", str(work / "motion")])
    _run([b2m, "annotate", "--dataset", "got10k", "--root", str(every), "--out", str(work / "teacher/davis"),
          "--method", "grabcut"])
    _run([b2m, "annotate", "--dataset", "got10k", "--root", str(synth_root), "--every", "2",
          "--out", str(work / "teacher/synthetic"), "--method", "grabcut"])


def run_dir(work: Path, recipe: str, fold: str) -> Path:
    return work / "runs" / f"{recipe}-{fold}"


def network_teacher(work: Path, base: str, fold: str, boxes: Path) -> Path:
    """The masks of ``base``'s weights of ``fold`` on the boxes that fold trains on: a teacher run (resumes)."""
    weights = run_dir(work, base, fold) / "weights.pt"
    if not weights.is_file():
        raise SystemExit(f"the teacher needs {weights}: train --recipe {base} --fold {fold} first")
    out = work / "teacher" / f"net-{base}-{fold}"
    _run([str(BIN / "box2mask"), "annotate", "--dataset", "got10k", "--root", str(boxes), "--out", str(out),
          "--weights", str(weights)])
    return out


def train(work: Path, recipe: str, fold: str, lasot: Path, threads: int) -> Path:
    """Train ``recipe`` on the boxes outside ``fold`` (``"all"``: on all 18 sequences); returns the weights file."""
    data = work / "data"
    out = run_dir(work, recipe, fold)
    boxes = data / ("davis-all" if fold == "all" else f"fold-{fold}") / "train"
    teachers = [work / "teacher/davis", work / "teacher/synthetic"]
    if recipe in RECIPE_TEACHER:
        teachers.append(network_teacher(work, RECIPE_TEACHER[recipe], fold, boxes))
    cmd = [str(BIN / "box2mask"), "train",
           "--data", f"got10k:{boxes}:1.0",
           "--data", f"lasot:{lasot}:0.25",
           "--data", f"got10k:{data / 'synthetic' / 'train'}:0.25",
           "--motion-cache", str(work / "motion"),
           *[arg for t in teachers for arg in ("--teacher", str(t))],
           "--out", str(out), *RECIPES[recipe]]
    if recipe in RECIPE_INIT:
        base_fold = ALL_INIT_FOLD if fold == "all" else fold
        base = run_dir(work, RECIPE_INIT[recipe], base_fold) / "weights.pt"
        if not base.is_file():
            raise SystemExit(f"{recipe} starts from {base}: train --recipe {RECIPE_INIT[recipe]} --fold {base_fold} "
                             "first")
        cmd += ["--init", str(base)]
    _run(cmd, threads=threads)
    return out / "weights.pt"


def score(weights: Path, fold: str, variants: list[str], davis: Path, threads: int, every: int,
          out: Path, label: str | None = None) -> dict:
    import torch

    from box2mask.datasets import open_dataset
    from box2mask.model.predictor import Predictor
    from box2mask.model.weights import load_weights

    torch.set_num_threads(threads)
    reader = open_dataset("davis", davis)
    ids = split(fold)[1]
    report = {"fold": fold, "sequences": ids, "every": every, "threads": threads, **({"label": label} if label else {}),
              "provenance": provenance([weights]), "results": {}}
    for name in variants:
        network, config, meta = load_weights(weights)
        trained_on = {s for src in meta.get("sources", []) for s in (src.get("sequences") or [])}
        if meta.get("adapted_from") and trained_on == set(ids):
            # `annotate --adapt` on the fold's own videos: their boxes were trained on, never their masks
            report["adapted_on_fold_boxes"] = meta["adapted_from"]
        elif trained_on & set(ids):
            report["contaminated"] = sorted(trained_on & set(ids))
        predictor = Predictor(network, replace(config, **parse_variant(name)), device="cpu")
        print(f"fold {fold} {name}", flush=True)
        result = evaluate(predictor, reader, ids, every)
        result["config"] = dict(vars(predictor.config))
        report["results"][name] = result
        atomic_write_json(out, report)
    return report


def baseline_rows(path: Path = Path(__file__).resolve().parent / "results" / "baselines.json") -> dict:
    """The filled box and GrabCut per fold, from their per-sequence figures (every frame scored)."""
    data = json.loads(path.read_text())
    rows = {}
    for method in ("filled-box", "grabcut"):
        per_seq = data[method]["sequences"]
        rows[f"{method} (every frame, results/baselines.json)"] = {
            fold: {"mean": {k: float(np.mean([per_seq[s][k] for s in ids])) for k in ("J", "F", "JF")}}
            for fold, ids in FOLDS.items()}
    return rows


def table(paths: list[Path]) -> str:
    """Rows ``method | fold A | fold B | fold C | mean`` of J&F (and J, F of the mean)."""
    rows: dict[str, dict[str, dict]] = baseline_rows()
    for path in paths:
        report = json.loads(path.read_text())
        if "fold" not in report:  # another result in the same folder (e.g. fallback_probe.json)
            continue
        label = report.get("label", path.stem.rsplit("-", 1)[0])
        for variant, result in report["results"].items():
            rows.setdefault(f"{label} {variant}", {})[report["fold"]] = result
    lines = ["| method | " + " | ".join(f"fold {f}" for f in FOLDS) + " | mean J | mean F | mean J&F | ms/frame |",
             "|---|" + "---:|" * (len(FOLDS) + 4)]
    for name, by_fold in rows.items():
        cells = [f"{by_fold[f]['mean']['JF']:.3f}" if f in by_fold else "" for f in FOLDS]
        if len(by_fold) == len(FOLDS):
            mean = {k: np.mean([by_fold[f]["mean"][k] for f in FOLDS]) for k in ("J", "F", "JF")}
            ms = np.mean([by_fold[f].get("ms_per_frame", np.nan) for f in FOLDS])
            tail = [f"{mean['J']:.3f}", f"{mean['F']:.3f}", f"**{mean['JF']:.3f}**",
                    "" if np.isnan(ms) else f"{ms:.0f}"]
        else:
            tail = ["", "", "(incomplete)", ""]
        lines.append(f"| {name} | " + " | ".join(cells + tail) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--work", type=Path, default=Path("/work/cv"), help="data, teachers and runs (outside git)")
    common.add_argument("--davis", type=Path, default=Path("../shared/data/davis16-dev"))
    common.add_argument("--lasot", type=Path, default=Path("../shared/data/lasot"))
    p = sub.add_parser("prepare", parents=[common])
    p.add_argument("--synthetic", type=int, default=30)
    p = sub.add_parser("train", parents=[common])
    p.add_argument("--recipe", choices=sorted(RECIPES), required=True)
    p.add_argument("--fold", choices=[*sorted(FOLDS), "all"], action="append", required=True,
                   help="train on the boxes outside this fold (repeatable); all: on all 18 sequences")
    p.add_argument("--threads", type=int, default=1)
    p = sub.add_parser("score", parents=[common])
    p.add_argument("--recipe", default=None, help="score WORK/runs/RECIPE-FOLD/weights.pt")
    p.add_argument("--weights", type=Path, default=None, help="or these weights (e.g. the shipped file)")
    p.add_argument("--fold", choices=sorted(FOLDS), required=True)
    p.add_argument("--variants", default="T5")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--label", default=None, help="row label in the table (default: the file name without -FOLD)")
    p = sub.add_parser("table")
    p.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args()
    if args.cmd == "prepare":
        prepare(args.work, args.davis, args.lasot, args.synthetic)
    elif args.cmd == "train":
        for fold in args.fold:
            print(train(args.work, args.recipe, fold, args.lasot, args.threads))
    elif args.cmd == "score":
        if (args.recipe is None) == (args.weights is None):
            parser.error("score: give --recipe or --weights")
        weights = args.weights or run_dir(args.work, args.recipe, args.fold) / "weights.pt"
        report = score(weights, args.fold, args.variants.split(","), args.davis, args.threads, args.every, args.out,
                       args.label)
        print(json.dumps({k: v["mean"] for k, v in report["results"].items()}, indent=1))
    else:
        print(table(args.results))


if __name__ == "__main__":
    main()
