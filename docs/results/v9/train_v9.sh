#!/usr/bin/env bash
# v9 candidates (issue 11, session 9: the capacity lever), run from a snapshot of the package.
# Usage: train_v9.sh SNAP OUT [flags...]   (flags such as --cls-adapter-r 32 --cls-adapter-alpha 64)
# v8's recipe and data (docs/results/v8/train_v8.sh; OUT/data is seeded with v8's retain answers and
# harmful completions when runs/s8/v8/data exists, so that only the [CLS] side changes), with the
# base model's phase-1 keys/values shared between candidates in runs/s9/kv (--kv-store).
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2"); shift 2
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
V8=/work/main/runs/s8/v8/data
if [ -d "$V8" ] && [ ! -e "$OUT/data/retain.jsonl" ]; then
  mkdir -p "$OUT/data" && cp "$V8/retain.jsonl" "$V8/completions.jsonl" "$OUT/data/"
fi
KV=$(realpath -m "${KV:-/work/main/runs/s9/kv}")
cd "$SNAP"
exec python -m saess.cli train --variant cls --out "$OUT" --phase1-views --harmful-completions 192 \
  --phase1-epochs 3 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 \
  --retain-limit 560 --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train \
  --retain-max-new-tokens 96 --phase1-limit 7000 --val-views-limit 300 --kv-store "$KV" "$@"
