#!/usr/bin/env bash
# Issue 11, session 7: the evaluation sets, once, for the candidate chosen on validation (v7aw).
# Usage: docs/results/v7/eval_v7.sh MODEL OUT. The runs of docs/results/v5/eval_v5.sh eval, in three
# single-threaded chains instead of two (nested alone); table: python docs/results/v5/target_table.py OUT
set -uo pipefail
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
T="--threads 1 --batch-size 40"
M=$1; R=$2
mkdir -p "$R"
( saess classifier-report --model "$M" --out "$R/classifier.json" > "$R/classifier.log" 2>&1
  saess eval --model "$M" --benchmark advbench --attack prefill --prefill-variants target --max-new-tokens 128 \
    --benign edgy $T --out "$R/advbench-prefill" > "$R/advbench-prefill.log" 2>&1 ) &
( saess eval --model "$M" --benchmark advbench --attack nested --limit 100 --max-new-tokens 128 --benign none \
    $T --out "$R/nested" > "$R/nested.log" 2>&1 ) &
( saess signal-report --model "$M" --out "$R/signal.json" > "$R/signal.log" 2>&1
  saess eval --model "$M" --benchmark harmbench --attack prefill --prefill-variants literal --max-new-tokens 128 \
    --benign gsm8k $T --out "$R/harmbench-prefill" > "$R/harmbench-prefill.log" 2>&1
  saess eval --model "$M" --benchmark xstest --attack direct --benign xstest --max-new-tokens 64 \
    $T --out "$R/xstest" > "$R/xstest.log" 2>&1 ) &
wait
