#!/usr/bin/env bash
# Session 23: the ablation models of `saess reproduce` not run in session 22 (docs/reproduce.md's commands).
set -euo pipefail
cd /work/snap23; . /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
R=/work/main/runs
RECIPE="--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --cls-adapter-r 8 --phase1-epochs 3 \
  --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle \
  --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off --kv-store $R/kv22"
for n in phase2 lam0.1 lam0.01; do
  mkdir -p $R/train-$n/data; cp -n $R/train-noadapter/data/retain.jsonl $R/train-noadapter/data/completions-*.jsonl $R/train-$n/data/
done
date; python -m saess.cli train $RECIPE --phase1-views --phase2-steps 200 --lam2 0.5 --lm-reads-cls on --out $R/train-phase2
date; python -m saess.cli train $RECIPE --phase1-views --phase1-from $R/train-phase2/phase1/final --phase2-steps 200 --lam2 0.1 --lm-reads-cls on --out $R/train-lam0.1
date; python -m saess.cli train $RECIPE --phase1-views --phase1-from $R/train-phase2/phase1/final --phase2-steps 200 --lam2 0.01 --lm-reads-cls on --out $R/train-lam0.01
date; echo abl done
