#!/usr/bin/env bash
# Session 23: ens5 (docs/results/v23/rule.md): build, calibrate as every candidate (docs/results/v15/after_train.sh's
# calibrate line), then `default`'s decoding settings.
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
date; saess ensemble --member saess/artifacts/default $(for s in 1 2 3 4; do echo --member runs/s23/v15c-s$s/final; done) --out runs/s23/ens5
date; saess calibrate --model runs/s23/ens5 --max-fpr 0.05 --window-answers runs/s14/val_answers.jsonl \
  --window-max-fpr 0.05 --out runs/s23/ens5-cal > runs/s23/cal_ens5.log 2>&1
date; echo ens5 calibrated
