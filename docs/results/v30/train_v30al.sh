#!/usr/bin/env bash
# Issue 11, session 30: `v30al` (docs/results/v30/rule.md) = session 26's `v26al` (docs/results/v26/rule.md) with --group-by-length: the [CLS]-only adapter (rank 8) and LoRA on the LM with
# L_lm on 16 sampled positions + lam1 1.0 * L_cls, in one phase 1, at `default`'s budget (three epochs of v15c's
# 7,000 phase-1 sequences), with v15c's retain set and harmful completions. On the CPU (resumable: run it again with
# the same OUT; checkpoints every 50 steps) or on a GPU with DEVICE=cuda.
# Usage: docs/results/v30/train_v30al.sh SNAP OUT   (SNAP: `git archive` of the package; THREADS default 2)
set -euo pipefail
SNAP=$1 OUT=$2
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
mkdir -p "$OUT/data"
cp -n /work/main/runs/train-noadapter/data/retain.jsonl /work/main/runs/train-noadapter/data/completions-b40ce3749e.jsonl "$OUT/data/"
cd "$SNAP"
python -m saess.cli train --device "${DEVICE:-cpu}" --variant cls --harmful-completions 768 --completion-max-new-tokens 128 \
  --window-max-start 112 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 \
  --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off --phase1-views --cls-adapter-r 8 \
  --phase1-finetune lora --phase1-lm-positions 16 --phase1-epochs 3 --lam1 1.0 --group-by-length --out "$OUT"
echo "v30al: trained"
