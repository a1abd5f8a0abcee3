#!/usr/bin/env bash
# Session 25, lever 5: the step-2 probe's 200 benign validation prompts (docs/results/v15/probe_benign.jsonl, 128
# tokens; one malicious probe prompt rides along because `saess eval` needs one) for NAME=MODEL ..., judged by
# `trained:refusal`, refusals by source (docs/results/v25/o_sources.py).  THREADS default 1.
set -uo pipefail
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
D=docs/results/v15
for spec in "$@"; do
  n=${spec%%=*}; m=${spec#*=}
  saess eval --model "$m" --prompts $D/probe_malicious.jsonl --limit 1 --attack direct --benign $D/probe_benign.jsonl \
    --max-new-tokens 128 --threads "${THREADS:-1}" --batch-size 40 --out runs/s25/bprobe-$n > runs/s25/bprobe-$n.log 2>&1
  saess judge --judge trained:refusal runs/s25/bprobe-$n >> runs/s25/bprobe-$n.log 2>&1
  python docs/results/v25/o_sources.py runs/s25/bprobe-$n-rejudged | tee -a runs/s25/O-bprobe.txt
done
