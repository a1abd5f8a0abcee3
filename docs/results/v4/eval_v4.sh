#!/usr/bin/env bash
# v4 vs the previous default: validation first (the choice), then the evaluation sets (report of the kept model).
# Two single-threaded jobs side by side (2 cores).
set -uo pipefail
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=1
M=runs/v4a/final
R=runs/v4-report
mkdir -p $R
T="--threads 1 --batch-size 40"
# 1. validation split (the choice): generation on 60 benign + 60 malicious validation prompts
for name in v4:$M; do
  n=${name%%:*}; m=${name#*:}
  saess eval --model $m --prompts runs/val_malicious.jsonl --attack direct --attack prefill --prefill-variants literal \
    --benign runs/val_benign.jsonl --max-new-tokens 48 $T --out runs/eval-val-$n > $R/eval-val-$n.log 2>&1 &
done
wait
echo VAL_DONE
# 2. evaluation sets, v4 only (the previous default's numbers are in docs/training.md and docs/results.md)
saess classifier-report --model $M --out $R/classifier_v4.json > $R/classifier.log 2>&1 &
saess eval --model $M --benchmark advbench --attack direct --limit 10 --benign edgy --max-new-tokens 48 $T --out runs/eval-v4-edgy > $R/eval-edgy.log 2>&1 &
wait
echo ALL_DONE
