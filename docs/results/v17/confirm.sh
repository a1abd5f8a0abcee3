#!/usr/bin/env bash
# Issue 11, session 17: the offline confirmation table of a model on the validation split.
# Usage: docs/results/v17/confirm.sh NAME MODEL WINSCORES   (session 17: v15c default runs/s15/winscores_v15c.json)
# Needs session 14's base answers (docs/results/v7/val_answers.sh and docs/results/v14/val_harmful_windows.py's
# answers: runs/s14/val_answers.jsonl, runs/s14/val_mal_answers.jsonl) and v15c's window scores
# (docs/results/v15/after_train.sh v15c: runs/s15/winscores_v15c.json). The prompt files are written once and
# shared by every model's table.
set -euo pipefail
NAME=$1 MODEL=$2 WIN=$3
cd /work/main
. .venv/bin/activate
mkdir -p runs/s17
[ -e runs/s17/val_labelled.jsonl ] || python - <<'PY'
import json
seen = set()
with open("runs/s17/val_starts.jsonl", "w") as out, open("runs/s17/val_labelled.jsonl", "w") as lab:
    for path, y in [("runs/s14/val_answers.jsonl", 0), ("runs/s14/val_mal_answers.jsonl", 1)]:
        for line in open(path):
            d = json.loads(line)
            if d["prompt"] in seen:
                continue
            seen.add(d["prompt"])
            out.write(json.dumps({"prompt": d["prompt"], "response": d["response"]}) + "\n")
            lab.write(json.dumps({"prompt": d["prompt"], "label": y}) + "\n")
PY
python docs/results/v10/confirm_probe.py "$MODEL" runs/s17/val_starts.jsonl runs/s17/val_labelled.jsonl 10 \
  --out "runs/s17/confirm_$NAME.jsonl"
python docs/results/v17/confirm_band17.py "runs/s17/confirm_${NAME}_r10.jsonl" "$WIN" \
  "$MODEL/saess_config.json" | tee "docs/results/v17/confirm_band_$NAME.md"
