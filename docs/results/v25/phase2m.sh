#!/usr/bin/env bash
# Session 25, issue 11 lever 5 ("compare keeping the loss on the guide tokens against masking it"): `phase2m` =
# the `phase2` ablation's command (docs/results/v23/scripts/abl.sh: `default`'s phase 1 from runs/train-phase2/phase1,
# then 200 steps of the alignment phase, λ2 0.5, the LM reading [CLS]) with `--mask-guide`, then `saess calibrate` as
# the ablations are (query and per-answer window thresholds at FPR 0.05 on the validation split).
# Usage: docs/results/v25/phase2m.sh SNAP   (SNAP: git archive of the package; THREADS default 2)
set -euo pipefail
SNAP=$1
. /work/main/.venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
R=/work/main/runs
mkdir -p $R/train-phase2m/data; cp -n $R/train-phase2/data/retain.jsonl $R/train-phase2/data/completions-*.jsonl $R/train-phase2m/data/
cd "$SNAP"
python -m saess.cli train --variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --cls-adapter-r 8 --phase1-epochs 3 --phase1-batch-size 16 --phase1-head-lr 3e-3 --retain-limit 560 --retain-shuffle \
  --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 --phase1-limit 7000 \
  --val-views-limit 300 --kv-store $R/kv22 --phase1-views --phase1-from $R/train-phase2/phase1/final \
  --phase2-steps 200 --lam2 0.5 --lm-reads-cls on --mask-guide --out $R/train-phase2m
cd /work/main
saess calibrate --model runs/train-phase2m/final --max-fpr 0.05 --window-answers runs/s14/val_answers.jsonl \
  --window-max-fpr 0.05 --out runs/train-phase2m/calibrated
echo "phase2m: done"
