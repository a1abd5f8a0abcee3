#!/usr/bin/env bash
# Session 19: step 1 of docs/results/v19/rule.md for v19w once it has trained, then its decoding settings.
# 1. `saess calibrate` + the window measure on the 165 read answers (docs/results/v15/after_train.sh, R=runs/s19);
# 2. `default`'s confirmation (below 0.95) and recheck (0.1), fixed by the rule (docs/results/v17/set_confirm.py);
# 3. the query side by part of the split, for v19w (docs/results/v19/query_split.py; `default`'s own run of it:
#    python docs/results/v19/query_split.py default=saess/artifacts/default --out runs/s19/qs_default.json).
set -euo pipefail
cd /work/main
. .venv/bin/activate
R=runs/s19 DOC=docs/results/v19 THREADS=${THREADS:-2} docs/results/v15/after_train.sh v19w
python docs/results/v17/set_confirm.py runs/s19/v19w-cal --confirm on --confirm-below 0.95 --recheck 0.1
OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2} \
  python docs/results/v19/query_split.py v19w=runs/s19/v19w-cal --out runs/s19/qs_v19w.json 2> runs/s19/qs_v19w.log
cp runs/s19/v19w-cal/calibration.json docs/results/v19/calibration_v19w.json 2>/dev/null || true
echo "v19w: step 1 measured"
