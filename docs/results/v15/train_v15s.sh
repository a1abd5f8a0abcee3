#!/usr/bin/env bash
# v15s (issue 11, session 15): v14c's command and data (retain answers, 48-token completions copied from
# runs/s14/v14c/data, so every phase-1 sequence is read from v14c's key/value store) with label smoothing 0.1
# on the [CLS] loss. Usage: train_v15s.sh SNAP OUT
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2")
mkdir -p "$OUT/data"
for f in retain.jsonl completions.jsonl; do
  [ -e "$OUT/data/$f" ] || cp "/work/main/runs/s14/v14c/data/$f" "$OUT/data/"
done
KV=${KV:-/work/main/runs/s14/kv} exec /work/main/docs/results/v9/train_v9.sh "$SNAP" "$OUT" --cls-adapter-r 8 \
  --harmful-completions 768 --cls-label-smoothing 0.1
