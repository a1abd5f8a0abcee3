#!/usr/bin/env bash
# The v4 default candidate (issue 11), run from a snapshot of the package (SNAP/saess) so that
# edits in the working tree cannot break a long run. Usage: runs/train_v4.sh SNAP OUT [flags...]
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2"); shift 2
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
cd "$SNAP"
exec python -m saess.cli train --variant cls --out "$OUT" --phase1-views --harmful-completions 64 \
  --phase1-epochs 4 --phase1-batch-size 16 --phase1-limit 2000 --phase1-head-lr 3e-3 --phase2-steps 60 --lam2 0.5 \
  --retain-limit 128 --retain-max-new-tokens 48 "$@"
