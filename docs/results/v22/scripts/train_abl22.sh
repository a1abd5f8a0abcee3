#!/usr/bin/env bash
# Session 22: the ablation models of `saess reproduce` (docs/reproduce.md's commands), one thread, shared kv store.
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
RECIPE="--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --cls-adapter-r 8 --phase1-epochs 3 \
  --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle \
  --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off --kv-store runs/kv22"
date; saess train $RECIPE --phase1-views --cls-adapter-r 0 --out runs/train-noadapter
mkdir -p runs/train-noviews/data; cp -n runs/train-noadapter/data/retain.jsonl runs/train-noadapter/data/completions-*.jsonl runs/train-noviews/data/
date; saess train $RECIPE --out runs/train-noviews
date; echo done
