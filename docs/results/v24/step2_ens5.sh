#!/usr/bin/env bash
# Session 24: after ens5's calibration: the float16 copy, its validation check (docs/results/v23/rule.md, session-24
# amendment), then step 2 on the copy that passes (docs/results/v20/step2.sh), the ablation training paused meanwhile.
set -euo pipefail
cd /work/main; . .venv/bin/activate
until grep -q "ens5 calibrated" runs/s23/ens5cal.log; do sleep 20; done
date; saess convert --model runs/s23/ens5-cal --weights-dtype float16 --out runs/s23/ens5-16
ABL=$(pgrep -f "saess.cli train" || true)
[ -n "$ABL" ] && kill -STOP $ABL && trap "kill -CONT $ABL" EXIT
date; OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 python docs/results/v24/fp16_check.py runs/s23/ens5-16 runs/s23/ens5-cal \
  --out docs/results/v24/fp16_check.json
if python -c "import json,sys; sys.exit(0 if json.load(open('docs/results/v24/fp16_check.json'))['passes'] else 1)"; then
  M=runs/s23/ens5-16
else
  M=runs/s23/ens5-cal
fi
date; echo "step 2 on $M"
THREADS=2 docs/results/v20/step2.sh ens5 $M
date
echo step2 done
