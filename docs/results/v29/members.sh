#!/usr/bin/env bash
# Session 29: two more members for the seed ensemble, trained on the package with contrast parts k-o
# (docs/results/v19/contrast/, written in session 19 from category definitions) at v15c's phase-1 sampling rate
# (--phase1-limit 8598, as v19wo8), seeds 5 and 6, same recipe split (--recipe-seed 0), session 22's retain answers
# and completions (--answers-from: nothing is generated). Snapshot: `git archive 7936877` (the members' code, as
# docs/results/v23/scripts/seeds.sh) with parts k-o copied into saess/data/contrast/.
# Usage: members.sh SNAP SEED   (resumable: phase-1 checkpoints)
set -euo pipefail
SNAP=$1; S=$2
cd "$SNAP"; . /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
RECIPE="--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --cls-adapter-r 8 --phase1-epochs 3 \
  --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle \
  --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 8598 --val-views-limit 300 --lm-reads-cls off --kv-store /work/main/runs/kv22"
date; python -m saess.cli train $RECIPE --phase1-views --seed $S --recipe-seed 0 \
  --answers-from /work/main/runs/train-noadapter/data --out /work/main/runs/s29/ko8-s$S
date; echo member $S done
