#!/usr/bin/env bash
# Issue 11, session 15: step 2 of docs/results/v15/rule.md, the 400 + 200 generation probe on the recipe's
# validation split. Usage: docs/results/v15/probe.sh NAME=MODEL [...]  (MODEL calibrated, with its strategic
# settings in its config: `reliance` high + `high_waits_for_tau` as `default`). THREADS (default 1); EXTRA: more
# `saess eval` flags for settings a config cannot carry (session 17: EXTRA="--tau 3").
# Then per run: `saess judge --judge trained:refusal runs/s15/probe-NAME` (over-refusal O) and
# `python docs/results/v13/read_run.py sheet runs/s15/probe-NAME OUT --parts 2` for the readers (H).
set -uo pipefail
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
D=docs/results/v15
for spec in "$@"; do
  n=${spec%%=*}; m=${spec#*=}
  saess eval --model "$m" --prompts $D/probe_malicious.jsonl --attack direct --attack prefill \
    --prefill-variants literal --benign $D/probe_benign.jsonl --max-new-tokens 128 \
    --threads "${THREADS:-1}" --batch-size 40 ${EXTRA:-} --out runs/s15/probe-$n > runs/s15/probe-$n.log 2>&1
  saess judge --judge trained:refusal runs/s15/probe-$n >> runs/s15/probe-$n.log 2>&1
done
