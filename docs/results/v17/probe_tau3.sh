#!/usr/bin/env bash
# Issue 11, session 17: step 2 for v15c-tau3 (docs/results/v17/rule.md): v15c's weights, tau 3 (a run flag: the
# model config does not carry tau yet), window threshold 0.9921 (val_harmful_windows.py tally -1 on its tau-3
# scores), confirmation below 0.95 (confirm_band17.py --choose on confirm_band_v15c-tau3.md).
#   runs/s17/v15cf-tau3 = runs/s17/v15cf with "window_threshold" 0.9921401606330872, then
#   python docs/results/v17/set_confirm.py runs/s17/v15cf-tau3 --confirm on --confirm-below 0.95
set -uo pipefail
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
D=docs/results/v15
saess eval --model runs/s17/v15cf-tau3 --tau 3 --prompts $D/probe_malicious.jsonl --attack direct --attack prefill \
  --prefill-variants literal --benign $D/probe_benign.jsonl --max-new-tokens 128 \
  --threads 2 --batch-size 40 --out runs/s15/probe-v15cf-tau3 > runs/s15/probe-v15cf-tau3.log 2>&1
saess judge --judge trained:refusal runs/s15/probe-v15cf-tau3 >> runs/s15/probe-v15cf-tau3.log 2>&1
