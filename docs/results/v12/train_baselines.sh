#!/usr/bin/env bash
# The sft and aug baselines retrained on the default's recipe (v11wh): the same alignment data as
# the default's run (runs/s11/v11/data: the base model's 96-token answers to 560 benign training
# prompts, contrast / edgy / over-refusal sources first) and the alignment budget of the paper's
# phase 2 that `saess reproduce` adds in its `phase2` ablation (200 steps of 8 chats, LoRA r 8).
#   docs/results/v12/train_baselines.sh SNAP [sft] [aug]      (resumable; runs/train-sft12, runs/train-aug12)
# Publish a finished one with: saess train ... --publish sft (or copy final/ into saess/artifacts/sft).
# Environment: DEF (the default's own training run; runs/s11/v11 was lost, session 14 remade it with
# docs/results/v9/train_v9.sh as runs/s14/v14r), ROOT (where runs go) and KV (the key/value store).
set -euo pipefail
SNAP=$1; shift
NAMES=${*:-sft aug}
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
DEF=$(realpath -m "${DEF:-/work/main/runs/s11/v11}"); ROOT=$(realpath -m "${ROOT:-/work/main/runs}")
cd "$SNAP"
for n in $NAMES; do
  out=$ROOT/train-${n}12
  [ -e "$out/final/saess_config.json" ] && { echo "$n: done"; continue; }
  mkdir -p "$out/data"
  [ -e "$out/data/retain.jsonl" ] || cp "$DEF/data/retain.jsonl" "$out/data/"
  t0=$(date +%s)
  python -m saess.cli train --variant "$n" --phase1-steps 0 --phase2-steps 200 --retain-limit 560 --retain-shuffle \
    --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 --out "$out" > "$out.log" 2>&1
  echo "$n: $(( $(date +%s) - t0 )) s"
done
