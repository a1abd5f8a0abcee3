#!/usr/bin/env bash
# v7 candidate (issue 11, session 7), run from a snapshot of the package. Usage: train_v7.sh SNAP OUT [flags...]
# v6b-p1 (v4's phase-1 flags, --phase1-limit 3200, no phase 2 kept) plus benign windows on edgy topics:
# the base model answers the contrast set's benign prompts first (--retain-prefer), 96 tokens each, and
# phase 1 cuts windows from those answers; more harmful completions keep the windows balanced.
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2"); shift 2
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
cd "$SNAP"
exec python -m saess.cli train --variant cls --out "$OUT" --phase1-views --harmful-completions 128 --cls-adapter-r 8 \
  --phase1-epochs 3 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 \
  --retain-limit 560 --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train \
  --retain-max-new-tokens 96 --phase1-limit 6000 --val-views-limit 300 "$@"
