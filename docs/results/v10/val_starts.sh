#!/usr/bin/env bash
# Issue 11, session 10: the base model's greedy first 16 response tokens to every prompt of the
# recipe's validation split (seed 0; both labels): the rule-1 views ("query + first r1 tokens")
# that a confirmation step would judge. Validation split only; no evaluation set is read.
# Usage: docs/results/v10/val_starts.sh OUT_DIR
set -euo pipefail
OUT=${1:-runs/s10}; mkdir -p "$OUT"
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
python - "$OUT/val_prompts_labelled.jsonl" <<'PY'
import json, sys
from saess.data.recipes import RecipeConfig, build_recipe
val = build_recipe(RecipeConfig(seed=0))["alignment_val"]
seen = {}
for e in val:
    seen.setdefault(e.prompt, (e.label, e.source))
with open(sys.argv[1], "w") as f:
    for p, (lab, src) in seen.items():
        f.write(json.dumps({"prompt": p, "label": lab, "source": src}) + "\n")
print(len(seen), "prompts")
PY
saess -q generate --model base --reliance off --prompts "$OUT/val_prompts_labelled.jsonl" --max-new-tokens 16 \
  --batch-size 48 --out "$OUT/val_starts.jsonl"
