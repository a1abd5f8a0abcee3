#!/usr/bin/env bash
# v6 candidates (issue 11, session 6), run from a snapshot of the package. Usage: train_v6.sh SNAP OUT [flags...]
# v4's recipe and budget plus phase-2 query views; the recipe now holds the nest pool and word problems.
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2"); shift 2
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
cd "$SNAP"
exec python -m saess.cli train --variant cls --out "$OUT" --phase1-views --harmful-completions 64 --cls-adapter-r 8 \
  --phase1-epochs 4 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 60 --lam2 0.5 --mask-guide \
  --retain-limit 128 --retain-shuffle --retain-max-new-tokens 48 --phase2-query-views --val-views-limit 300 "$@"
