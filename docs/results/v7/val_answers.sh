#!/usr/bin/env bash
# The base model's greedy 128-token answers to the benign prompts of the recipe's validation split
# (seed 0; classifier-only sources excluded, as in the retain set): what `saess calibrate
# --window-answers` reads to set a model's window threshold per answer (issue 11, session 7).
# Usage: docs/results/v7/val_answers.sh OUT_DIR
set -euo pipefail
OUT=${1:-runs/s7}; mkdir -p "$OUT"
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
python - "$OUT/val_benign_prompts.jsonl" <<'PY'
import json, sys
from saess.data.recipes import RecipeConfig, build_recipe
from saess.training.pipeline import CLASSIFIER_ONLY_SOURCES
val = build_recipe(RecipeConfig(seed=0))["alignment_val"]
ps = list(dict.fromkeys(e.prompt for e in val if e.label == 0 and e.source not in CLASSIFIER_ONLY_SOURCES))
with open(sys.argv[1], "w") as f:
    f.writelines(json.dumps({"prompt": p}) + "\n" for p in ps)
print(len(ps), "prompts")
PY
saess -q generate --model base --reliance off --prompts "$OUT/val_benign_prompts.jsonl" --max-new-tokens 128 \
  --batch-size 32 --out "$OUT/val_answers.jsonl"
