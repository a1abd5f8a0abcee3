#!/usr/bin/env bash
# Session 30: the cost of a phase 1 that runs the whole LM (v26al's command, docs/results/v26/train_v26al.sh) with and
# without --group-by-length, on the two cores here: each run stopped after LIMIT seconds of training, its steps/s read
# from the progress bar (a benchmark, not a test). Usage: docs/results/v30/speed.sh [LIMIT]   (default 240)
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
L=${1:-240}
for mode in plain grouped; do
  OUT=runs/s30/speed-$mode; rm -rf $OUT; mkdir -p $OUT/data
  cp runs/train-noadapter/data/retain.jsonl runs/train-noadapter/data/completions-b40ce3749e.jsonl $OUT/data/
  extra=""; [ $mode = grouped ] && extra="--group-by-length"
  timeout $((L + 150)) python -m saess.cli train --variant cls --harmful-completions 768 --completion-max-new-tokens 128 \
    --window-max-start 112 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 \
    --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
    --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off --phase1-views --cls-adapter-r 8 \
    --phase1-finetune lora --phase1-lm-positions 16 --phase1-epochs 3 --lam1 1.0 $extra --out $OUT > $OUT.log 2>&1 || true
  echo "$mode: $(tr '\r' '\n' < $OUT.log | grep 'train\[' | tail -1)"
done
