#!/usr/bin/env bash
# v8 candidate (issue 11, session 8), run from a snapshot of the package. Usage: train_v8.sh SNAP OUT [flags...]
# v7a's recipe (docs/results/v7/train_v7.sh) on the contrast set grown by parts e-h (safe targets, safe
# contexts, privacy / nonsense groups / history, harmful writing requests paired with benign ones: the
# categories where v7aw erred most on the validation split), with more harmful completions (192) for
# rule-2/3 windows and a larger phase-1 sample (7,000 sequences, 3 epochs).
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2"); shift 2
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
cd "$SNAP"
exec python -m saess.cli train --variant cls --out "$OUT" --phase1-views --harmful-completions 192 --cls-adapter-r 8 \
  --phase1-epochs 3 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 \
  --retain-limit 560 --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train \
  --retain-max-new-tokens 96 --phase1-limit 7000 --val-views-limit 300 "$@"
