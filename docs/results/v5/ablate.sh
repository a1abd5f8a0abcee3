#!/usr/bin/env bash
# Phase-2 levers from v4's phase 1 (same retain set as v4: the first 128 benign prompts), 60 steps as v4.
set -uo pipefail
cd /work/main
for spec in "qv:--phase2-query-views" "frozen:--phase2-head-lr 0"; do
  n=${spec%%:*}; flags=${spec#*:}
  mkdir -p runs/abl-$n/data && cp runs/v4a/data/retain.jsonl runs/v4a/data/completions.jsonl runs/abl-$n/data/
  runs/s5/train_v5.sh /work/snap5 runs/abl-$n --phase1-from /work/main/runs/v4a/phase1/final --phase2-steps 60 \
    --retain-limit 128 $flags > runs/s5/abl-$n.log 2>&1
done
