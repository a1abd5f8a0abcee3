#!/usr/bin/env bash
# v5 candidate (issue 11, session 5), run from a snapshot of the package. Usage: train_v5.sh SNAP OUT [flags...]
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2"); shift 2
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
cd "$SNAP"
exec python -m saess.cli train --variant cls --out "$OUT" --phase1-views --harmful-completions 64 --cls-adapter-r 8 \
  --phase1-epochs 4 --phase1-batch-size 16 --phase1-limit 2000 --phase1-head-lr 3e-3 --lam2 0.5 --mask-guide \
  --retain-max-new-tokens 48 --val-views-limit 300 "$@"
