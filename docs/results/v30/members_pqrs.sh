#!/usr/bin/env bash
# Session 30 (docs/results/v30/rule.md, second candidate): full ensemble members trained on the package with contrast
# parts k-s: session 29's member command (docs/results/v29/members.sh) on SNAP = /work/snap29 + parts p-s (cleaned by
# docs/results/v30/near_copies.py) in saess/data/contrast/, with the phase-1 limit at v19wo8's sampling rate.
# Usage: members_pqrs.sh SNAP SEED LIMIT   (resumable: phase-1 checkpoints)
set -euo pipefail
SNAP=$1; S=$2; LIMIT=$3
cd "$SNAP"; . /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
RECIPE="--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --cls-adapter-r 8 --phase1-epochs 3 \
  --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle \
  --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit $LIMIT --val-views-limit 300 --lm-reads-cls off --kv-store /work/main/runs/kv22"
date; python -m saess.cli train $RECIPE --phase1-views --seed $S --recipe-seed 0 \
  --answers-from /work/main/runs/train-noadapter/data --out /work/main/runs/s30/pqrs-s$S
date; echo member $S done
