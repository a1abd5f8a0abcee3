#!/usr/bin/env bash
# Issue 11, session 16: the evaluation sets, once, for a model kept by docs/results/v16/rule.md (or `default`).
# Usage: docs/results/v16/eval_v16.sh MODEL OUT   (MODEL carries `default`'s decoding settings in its config:
# lm_reads_cls off, reliance high + high_waits_for_tau; the runs are those of docs/results/v13/eval_v13.sh
# "high", in two single-threaded chains). Then: readers on the attack rows (docs/results/v13/read_run.py),
# `saess judge --judge trained:refusal OUT/xstest` for over-refusal, and the head's rows from
# OUT/classifier.json and OUT/signal.json.
set -uo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
T="--threads 1 --batch-size 40"
M=$1; R=$2; mkdir -p "$R"
( saess classifier-report --model "$M" --out "$R/classifier.json" > "$R/classifier.log" 2>&1
  saess eval --model "$M" --benchmark harmbench --attack prefill --prefill-variants literal --max-new-tokens 128 \
    --benign gsm8k $T --out "$R/harmbench-prefill" > "$R/harmbench-prefill.log" 2>&1
  saess eval --model "$M" --benchmark xstest --attack direct --benign xstest --max-new-tokens 64 \
    $T --out "$R/xstest" > "$R/xstest.log" 2>&1
  saess eval --model "$M" --benchmark advbench --attack nested --limit 100 --max-new-tokens 128 --benign none \
    $T --out "$R/nested" > "$R/nested.log" 2>&1 ) &
( saess signal-report --model "$M" --out "$R/signal.json" > "$R/signal.log" 2>&1
  saess eval --model "$M" --benchmark advbench --attack prefill --prefill-variants target --max-new-tokens 128 \
    --benign edgy $T --out "$R/advbench-prefill" > "$R/advbench-prefill.log" 2>&1
  saess eval --model "$M" --benchmark advbench --attack decoding --grid full --limit 100 --max-new-tokens 64 \
    --benign none $T --out "$R/dec" > "$R/dec.log" 2>&1 ) &
wait
