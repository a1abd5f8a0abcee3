#!/usr/bin/env bash
# Session 30: query-only ensemble members trained for the query judgement alone: session 29's k-o members'
# command (docs/results/v29/members.sh: the package with contrast parts k-o, --phase1-limit 8598, --recipe-seed 0,
# session 22's retain answers and completions through --answers-from) with --windows-per-answer 0: phase 1 sees
# query views, rule-1 views (query + first 10 answer tokens) and whole texts, no window of the answer alone
# (query-only members never judge one: docs/model.md, "Query-only members").
# Usage: members.sh SNAP SEED   (SNAP: /work/snap29 = `git archive 7936877` + docs/results/v19/contrast/part_[k-o].jsonl
# in saess/data/contrast; resumable: phase-1 checkpoints)
set -euo pipefail
SNAP=$1; S=$2
cd "$SNAP"; . /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
RECIPE="--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --cls-adapter-r 8 --phase1-epochs 3 \
  --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle \
  --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 8598 --val-views-limit 300 --lm-reads-cls off --kv-store /work/main/runs/kv22"
date; python -m saess.cli train $RECIPE --phase1-views --windows-per-answer 0 --seed $S --recipe-seed 0 \
  --answers-from /work/main/runs/train-noadapter/data --out /work/main/runs/s30/qs-s$S
date; echo member $S done
