#!/usr/bin/env bash
# Session 23: two more runs of `default`'s recipe (the command of docs/reproduce.md, `--phase1-views`), run seeds 1
# and 2 on the same recipe split (--recipe-seed 0), the retain answers and completions of session 22's runs.
set -euo pipefail
cd /work/snap23; . /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
RECIPE="--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --cls-adapter-r 8 --phase1-epochs 3 \
  --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle \
  --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off --kv-store /work/main/runs/kv22"
for s in ${SEEDS:-1 2}; do
  date; python -m saess.cli train $RECIPE --phase1-views --seed $s --recipe-seed 0 \
    --answers-from /work/main/runs/train-noadapter/data --out /work/main/runs/s23/v15c-s$s
done
date; echo seeds done
