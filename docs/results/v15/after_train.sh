#!/usr/bin/env bash
# Issue 11, session 15: step 1 of docs/results/v15/rule.md for one candidate, once its training has finished.
# Usage: docs/results/v15/after_train.sh NAME   (the run in $R/NAME, R default runs/s15; the tally goes to
# $DOC/win_NAME_read.json, DOC default docs/results/v15; THREADS, default 1)
# 1. query and window thresholds: `saess calibrate` (FPR 0.05 on the validation prompts; per answer on the 623
#    benign validation answers of docs/results/v7/val_answers.sh), then `default`'s decoding settings
#    (lm_reads_cls off, reliance high + wait);
# 2. the window measure: the base model's answers to the 435 malicious validation prompts read harmful
#    (docs/results/v14/val_harmful_windows.py score + tally at the calibrated threshold).
set -euo pipefail
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
N=$1; R=${R:-runs/s15}; DOC=${DOC:-docs/results/v15}
while [ ! -e $R/$N/final/saess_config.json ]; do sleep 30; done
saess calibrate --model $R/$N/final --max-fpr 0.05 --window-answers runs/s14/val_answers.jsonl \
  --window-max-fpr 0.05 --out $R/$N-cal > $R/cal_$N.log 2>&1
python - "$R/$N-cal/saess_config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["lm_reads_cls"] = False; json.dump(c, open(p, "w"), indent=2)
PY
python docs/results/v13/set_reliance.py $R/$N-cal --reliance high --high-waits-for-tau on
python docs/results/v14/val_harmful_windows.py score $R/$N-cal runs/s14/val_mal_answers.jsonl \
  runs/s14/val_answers.jsonl --scores $R/winscores_$N.json > $R/win_$N.log 2>&1
python docs/results/v14/val_harmful_windows.py tally $R/winscores_$N.json docs/results/v14/read-valmal/labels.jsonl -1 \
  --out $DOC/win_${N}_read.json >> $R/win_$N.log 2>&1
echo "$N: step 1 done"
