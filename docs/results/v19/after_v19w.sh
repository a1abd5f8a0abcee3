#!/usr/bin/env bash
# Session 19: step 1 of docs/results/v19/rule.md for a candidate (NAME, default v19w) once it has trained, then its
# decoding settings. Usage: after_v19w.sh [NAME]   (the run in runs/s19/NAME)
# 1. `saess calibrate` + the window measure on the 165 read answers (docs/results/v15/after_train.sh, R=runs/s19);
# 2. `default`'s confirmation (below 0.95) and recheck (0.1), fixed by the rule (docs/results/v17/set_confirm.py);
# 3. the query side by part of the split, for NAME (docs/results/v19/query_split.py; `default`'s own run of it:
#    python docs/results/v19/query_split.py default=saess/artifacts/default --out runs/s19/qs_default.json).
# R and DOC (default runs/s19, docs/results/v19): where the runs are and where the JSON goes (session 20: s20, v20).
set -euo pipefail
cd /work/main
. .venv/bin/activate
N=${1:-v19w}
R=${R:-runs/s19} DOC=${DOC:-docs/results/v19}
R=$R DOC=$DOC THREADS=${THREADS:-2} docs/results/v15/after_train.sh $N
python docs/results/v17/set_confirm.py $R/$N-cal --confirm on --confirm-below 0.95 --recheck 0.1
OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2} \
  python docs/results/v19/query_split.py $N=$R/$N-cal --out $R/qs_$N.json 2> $R/qs_$N.log
cp $R/$N-cal/calibration.json $DOC/calibration_$N.json 2>/dev/null || true
echo "$N: step 1 measured"
