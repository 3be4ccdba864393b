#!/usr/bin/env bash
# How the shipped weights (weights/box2mask-video.pt) were made, step by step, on this repo's
# CPU-only machine (2 cores). Every step reads boxes only; davis16-dev masks are never opened
# except by the held-out evaluation at the end. Data goes to $WORK (outside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/work}
SHARED=${SHARED:-../shared}
B=.venv/bin/box2mask

# 1. Box-only training data: the 12 non-held-out davis16-dev sequences as GOT-10k folders
#    (frames linked, boxes = the masks' tight boxes, no mask file), and 30 synthetic videos.
.venv/bin/python benchmarks/prepare_training_data.py --davis "$SHARED/data/davis16-dev" --out "$WORK/data/train" --synthetic 30

# 2. Motion maps for the motion-aware affinity loss.
$B motion -d got10k -r "$WORK/data/train/davis-boxes/train" --out "$WORK/data/motion"
$B motion -d lasot -r "$SHARED/data/lasot" --every 1 --max-frames 0 --out "$WORK/data/motion"
$B motion -d got10k -r "$WORK/data/train/synthetic/train" --out "$WORK/data/motion"

# 3. The teacher: GrabCut pseudo-masks from the boxes, through the ordinary annotate pipeline.
$B annotate --dataset got10k --root "$WORK/data/train/davis-boxes/train" --out "$WORK/teacher/davis" --method grabcut
$B annotate --dataset lasot --root "$SHARED/data/lasot" --every 3 --max-frames 0 --out "$WORK/teacher/lasot" --method grabcut --shard-frames 200
$B annotate --dataset got10k --root "$WORK/data/train/synthetic/train" --every 2 --out "$WORK/teacher/synthetic" --method grabcut

# 4. Training: 3,000 steps of 4 clips x 3 frames at 192 px, one thread.
DATA="--data got10k:$WORK/data/train/davis-boxes/train:1.0 --data lasot:$SHARED/data/lasot:0.25
      --data got10k:$WORK/data/train/synthetic/train:0.25 --motion-cache $WORK/data/motion
      --teacher $WORK/teacher/davis --teacher $WORK/teacher/lasot --teacher $WORK/teacher/synthetic"
OMP_NUM_THREADS=1 $B train $DATA --out "$WORK/runs/main2" --iterations 3000 \
    --loss-weights teacher=0.5,pairwise=0.4,affinity=0.3,temporal=0.3

# 5. Package the weights with their provenance (held-out list, data, losses) into weights/.
.venv/bin/python benchmarks/ship_weights.py --checkpoint "$WORK/runs/main2/checkpoint.pt" --out weights/box2mask-video.pt
