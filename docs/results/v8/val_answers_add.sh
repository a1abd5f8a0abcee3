#!/usr/bin/env bash
# The base model's greedy 128-token answers to the benign validation prompts (seed 0) that an earlier
# answers file lacks (the split grew with the contrast set's parts e-h), appended to a copy of it:
# what `saess calibrate --window-answers` reads (docs/results/v7/val_answers.sh makes the whole file).
# Usage: docs/results/v8/val_answers_add.sh OLD_ANSWERS OUT_DIR
set -euo pipefail
OLD=$1; OUT=$2; mkdir -p "$OUT"
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
python - "$OLD" "$OUT/val_benign_prompts_new.jsonl" <<'PY'
import json, sys
from saess.data.recipes import RecipeConfig, build_recipe
from saess.training.pipeline import CLASSIFIER_ONLY_SOURCES
have = {json.loads(l)["prompt"] for l in open(sys.argv[1], encoding="utf-8")}
val = build_recipe(RecipeConfig(seed=0))["alignment_val"]
ps = [p for p in dict.fromkeys(e.prompt for e in val if e.label == 0 and e.source not in CLASSIFIER_ONLY_SOURCES)
      if p not in have]
with open(sys.argv[2], "w") as f:
    f.writelines(json.dumps({"prompt": p}) + "\n" for p in ps)
print(len(ps), "new prompts")
PY
saess -q generate --model base --reliance off --prompts "$OUT/val_benign_prompts_new.jsonl" --max-new-tokens 128 \
  --batch-size 32 --out "$OUT/val_answers_new.jsonl"
cat "$OLD" "$OUT/val_answers_new.jsonl" > "$OUT/val_answers.jsonl"
wc -l "$OUT/val_answers.jsonl"
