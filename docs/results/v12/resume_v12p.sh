#!/usr/bin/env bash
# Issue 11, session 12: v12p (the paper's phase 1 on v11's data, 3 epochs), started on a lent H100
# (docs/results/v12/gpu_v12p.sh: steps 1-930 in 187 s, its step-900 checkpoint brought back) and
# resumed here on the CPU from that checkpoint. Usage: resume_v12p.sh SNAP OUT  (OUT holds phase1/checkpoint)
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2")
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
cd "$SNAP"
exec python -m saess.cli train --device cpu --variant cls --out "$OUT" --phase1-views \
  --harmful-completions 192 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 \
  --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 7000 --val-views-limit 300 --cls-adapter-r 0 --phase1-finetune lora --phase1-lm-positions 16 \
  --phase1-epochs 3
