#!/usr/bin/env bash
# Session 24: resume ens5's calibration (session 23's run stopped at 95% when the session ended).
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
date; saess calibrate --model runs/s23/ens5 --max-fpr 0.05 --window-answers runs/s14/val_answers.jsonl \
  --window-max-fpr 0.05 --out runs/s23/ens5-cal > runs/s23/cal_ens5.log 2>&1
date; echo ens5 calibrated
