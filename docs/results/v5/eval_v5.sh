#!/usr/bin/env bash
# Issue 11, session 5. Usage: docs/results/v5/eval_v5.sh val NAME=MODEL...   (validation: the choice)
#                             docs/results/v5/eval_v5.sh eval MODEL OUT      (evaluation sets: report of the kept model)
# Single-threaded jobs, two side by side (2 cores). MODEL is a folder whose saess_config.json holds its
# own threshold (saess calibrate on the validation split).
set -uo pipefail
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=1
T="--threads 1 --batch-size 40"
V=docs/results/v4   # the 60 + 60 validation prompts (make_val_prompts.py)
if [ "$1" = val ]; then
  shift
  for spec in "$@"; do
    n=${spec%%=*}; m=${spec#*=}
    saess eval --model "$m" --prompts $V/val_malicious.jsonl --attack direct --attack prefill --prefill-variants literal \
      --benign $V/val_benign.jsonl --max-new-tokens 48 $T --out runs/eval-val-$n > runs/eval-val-$n.log 2>&1 &
  done
  wait
  exit 0
fi
M=$2; R=$3
mkdir -p "$R"
( saess classifier-report --model "$M" --out "$R/classifier.json" > "$R/classifier.log" 2>&1
  saess eval --model "$M" --benchmark advbench --attack prefill --prefill-variants target --max-new-tokens 128 \
    --benign edgy $T --out "$R/advbench-prefill" > "$R/advbench-prefill.log" 2>&1
  saess eval --model "$M" --benchmark advbench --attack nested --limit 100 --max-new-tokens 128 --benign none \
    $T --out "$R/nested" > "$R/nested.log" 2>&1 ) &
( saess signal-report --model "$M" --out "$R/signal.json" > "$R/signal.log" 2>&1
  saess eval --model "$M" --benchmark harmbench --attack prefill --prefill-variants literal --max-new-tokens 128 \
    --benign gsm8k $T --out "$R/harmbench-prefill" > "$R/harmbench-prefill.log" 2>&1
  saess eval --model "$M" --benchmark xstest --attack direct --benign xstest --max-new-tokens 64 \
    $T --out "$R/xstest" > "$R/xstest.log" 2>&1 ) &
wait
