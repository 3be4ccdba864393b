#!/usr/bin/env bash
# How the shipped weights (box2mask/weights/box2mask-video.pt) were made, step by step, on this repo's
# CPU-only machine (2 cores). Since 2026-12-03 they are the EfficientNet-Lite2 chain below; the Lite0
# chain shipped before it (main2 -> ft-drop -> mf1 -> all18, 6,200 steps) is this script at commit
# 43a95d7. Every step reads boxes only; davis16-dev masks are never opened except to score fold B.
# Data goes to $WORK (outside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/work}
SHARED=${SHARED:-../shared}

# 1. Box-only training data, motion maps and GrabCut teachers for all 18 davis16-dev sequences, one
#    folder per cross-validation fold, and 30 synthetic videos (benchmarks/cv.py prepare).
.venv/bin/python benchmarks/cv.py prepare --work "$WORK/cv" --davis "$SHARED/data/davis16-dev" --lasot "$SHARED/data/lasot"

# 2. Stage 1 (r6-lite2-2k, fold B): 2,000 steps on Lite2 on the boxes of the 12 sequences outside fold B
#    (the ones the Lite0 chain's mf1 trained on), then fold B scored against mf1 (masks read only here).
.venv/bin/python benchmarks/cv.py train --work "$WORK/cv" --recipe r6-lite2-2k --fold B --threads 2 --lasot "$SHARED/data/lasot"
.venv/bin/python benchmarks/edges_cv.py --weights B="$WORK/cv/runs/r6-lite2-2k-B/weights.pt" --settings none,crf \
    --every 2 --threads 2 --out benchmarks/results/cv/s4-r6-lite2-2k-B.json

# 3. Stage 2 (r6-ft on all 18): 1,200 steps at lr 3e-4 from stage 1 on the boxes of all 18 sequences.
.venv/bin/python benchmarks/cv.py train --work "$WORK/cv" --recipe r6-ft --fold all --threads 2 --lasot "$SHARED/data/lasot"

# 4. Package with both stages' record and the fold-chosen inference defaults (CRF clean-up on, mirror
#    averaging off, clipping to the box on, 320 px crops: the file as shipped got the crop on 2026-12-04 through
#    benchmarks/set_inference_defaults.py, recorded in it), then regenerate the model card's recorded block.
.venv/bin/python benchmarks/ship_weights.py --checkpoint "$WORK/cv/runs/r6-ft-all/checkpoint.pt" \
    --stages "$WORK/cv/runs/r6-lite2-2k-B" --trained-on all --edges crf --crop-size 320 \
    --out box2mask/weights/box2mask-video.pt
.venv/bin/python benchmarks/model_card.py
