#!/usr/bin/env bash
# Session 24: the last ablation of docs/results/v23/scripts/abl.sh (same command), beside lam0.1.
set -euo pipefail
cd /work/snap23; . /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
R=/work/main/runs
RECIPE="--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --cls-adapter-r 8 --phase1-epochs 3 \
  --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle \
  --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off --kv-store $R/kv22"
date; python -m saess.cli train $RECIPE --phase1-views --phase1-from $R/train-phase2/phase1/final --phase2-steps 200 --lam2 0.01 --lm-reads-cls on --out $R/train-lam0.01
date; echo lam0.01 done
