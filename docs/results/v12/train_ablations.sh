#!/usr/bin/env bash
# The ablation models of `saess reproduce` (saess/reproduce/plan.py: TRAIN_RECIPE, TRAINED) at full
# budget, on the default's recipe (v15c since session 16; v11wh before) with one change each, into runs/train-NAME. Run from a
# snapshot of the package (git archive) so that code edits do not change a running job:
#   docs/results/v12/train_ablations.sh SNAP [NAME ...]     (default: all, cheapest first)
# Resumable: a model whose final/ exists is skipped; an unfinished one resumes from its checkpoint.
# Shares the default's own run (runs/s11/v11) where the recipe says so: its base-model answers and
# harmful completions (data/), and its phase 1 for the models that only add an alignment phase.
# The frozen LM's phase-1 keys/values are shared between runs through KV (default runs/s9/kv).
# `saess reproduce` then calibrates each one (train-NAME/calibrated) before evaluating it.
# Environment: DEF (the default's own training run; runs/s11/v11 was lost, session 14 remade it with
# docs/results/v9/train_v9.sh as runs/s14/v14r), ROOT (where runs go) and KV (the key/value store).
set -euo pipefail
SNAP=$1; shift
NAMES=${*:-noadapter phase2 lam0.1 lam0.01 noviews paperp1}
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
DEF=$(realpath -m "${DEF:-/work/main/runs/s11/v11}"); KV=$(realpath -m "${KV:-/work/main/runs/s9/kv}"); ROOT=$(realpath -m "${ROOT:-/work/main/runs}")
RECIPE=(--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 --cls-adapter-r 8 --phase1-epochs 3 --phase1-batch-size 16
        --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle
        --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96
        --phase1-limit 7000 --val-views-limit 300 --kv-store "$KV" --lm-reads-cls off)
cd "$SNAP"
for n in $NAMES; do
  out=$ROOT/train-$n
  [ -e "$out/final/saess_config.json" ] && { echo "$n: done"; continue; }
  mkdir -p "$out/data"
  [ -e "$out/data/retain.jsonl" ] || cp "$DEF/data/retain.jsonl" "$DEF"/data/completions*.jsonl "$out/data/"
  case $n in
    noviews)   extra=() ;;
    noadapter) extra=(--phase1-views --cls-adapter-r 0) ;;
    paperp1)   extra=(--phase1-views --cls-adapter-r 0 --phase1-finetune lora --phase1-lm-positions 16 --phase1-epochs 1) ;;
    phase2)    extra=(--phase1-views --phase1-from "$DEF/phase1/final" --phase2-steps 200 --lam2 0.5 --lm-reads-cls on) ;;
    lam0.1)    extra=(--phase1-views --phase1-from "$DEF/phase1/final" --phase2-steps 200 --lam2 0.1 --lm-reads-cls on) ;;
    lam0.01)   extra=(--phase1-views --phase1-from "$DEF/phase1/final" --phase2-steps 200 --lam2 0.01 --lm-reads-cls on) ;;
    *) echo "unknown ablation $n" >&2; exit 2 ;;
  esac
  echo "$n: saess train ${RECIPE[*]} ${extra[*]} --out $out"
  t0=$(date +%s)
  python -m saess.cli train "${RECIPE[@]}" "${extra[@]}" --out "$out" > "$out.log" 2>&1
  echo "$n: $(( $(date +%s) - t0 )) s"
done
