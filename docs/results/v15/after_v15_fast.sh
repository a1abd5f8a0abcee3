#!/usr/bin/env bash
# v15: step 1 with two threads once v15s's is done, the step-2 probe started beside the window scoring
# (its numbers are read only if step 1 prefers v15)
cd /work/main
while [ ! -e runs/s15/v15/final/saess_config.json ]; do sleep 20; done
while pgrep -f "after_train.sh v15s" > /dev/null; do sleep 20; done
. .venv/bin/activate
R=runs/s15; N=v15
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
saess calibrate --model $R/$N/final --max-fpr 0.05 --window-answers runs/s14/val_answers.jsonl \
  --window-max-fpr 0.05 --out $R/$N-cal > $R/cal_$N.log 2>&1
python - "$R/$N-cal/saess_config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["lm_reads_cls"] = False; json.dump(c, open(p, "w"), indent=2)
PY
python docs/results/v13/set_reliance.py $R/$N-cal --reliance high --high-waits-for-tau on
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
THREADS=1 docs/results/v15/probe.sh v15=$R/$N-cal > $R/probe_v15.out 2>&1 &
python docs/results/v14/val_harmful_windows.py score $R/$N-cal runs/s14/val_mal_answers.jsonl \
  runs/s14/val_answers.jsonl --scores $R/winscores_$N.json > $R/win_$N.log 2>&1
python docs/results/v14/val_harmful_windows.py tally $R/winscores_$N.json docs/results/v14/read-valmal/labels.jsonl -1 \
  --out docs/results/v15/win_${N}_read.json >> $R/win_$N.log 2>&1
echo "v15: step 1 done"
wait
echo "v15: probe done"
