#!/usr/bin/env bash
# Issue 11, session 17: v17r's steps of docs/results/v17/rule.md once its training has finished (waits for it):
# step 1 (calibration, window measure), its confirmation band u by the offline rule, then the step-2 probe
# (run after step 1 whatever its outcome; the choice reads step 1 first).  Usage: docs/results/v17/after_v17r.sh
set -euo pipefail
cd /work/main
. .venv/bin/activate
R=runs/s17 DOC=docs/results/v17 THREADS=${THREADS:-2} docs/results/v15/after_train.sh v17r
docs/results/v17/confirm.sh v17r runs/s17/v17r-cal runs/s17/winscores_v17r.json
U=$(python docs/results/v17/confirm_band17.py runs/s17/confirm_v17r_r10.jsonl runs/s17/winscores_v17r.json \
  runs/s17/v17r-cal/saess_config.json --choose)
echo "v17r: confirmation band u = $U"
if [ "$U" = none ]; then
  python docs/results/v17/set_confirm.py runs/s17/v17r-cal --confirm off
else
  python docs/results/v17/set_confirm.py runs/s17/v17r-cal --confirm on --confirm-below "$U"
fi
THREADS=${THREADS:-2} docs/results/v15/probe.sh v17r=runs/s17/v17r-cal
echo "v17r: probe done"
