#!/usr/bin/env bash
# Issue 11, session 16: over-refusal on the edgy validation probe (docs/results/v16/edgy_probe.md) for models
# given as NAME=MODEL (each with its own decoding settings), 128 new tokens, one thread each, in parallel;
# then `trained:refusal` and the sources of the refusals. The one malicious prompt only satisfies `saess eval`.
set -uo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for spec in "$@"; do n=${spec%%=*}; m=${spec#*=}
  ( saess eval --model "$m" --prompts docs/results/v15/probe_malicious.jsonl --limit 1 --attack direct \
      --benign docs/results/v16/probe_edgy.jsonl --max-new-tokens 128 --threads 1 --batch-size 40 \
      --out runs/s16/edgy-$n > runs/s16/edgy-$n.log 2>&1
    saess judge runs/s16/edgy-$n --judge trained:refusal --out runs/s16/edgy-$n-trained >> runs/s16/edgy-$n.log 2>&1
    python docs/results/v15/refusal_sources.py runs/s16/edgy-$n-trained >> runs/s16/edgy-$n.log 2>&1 ) &
done
wait
