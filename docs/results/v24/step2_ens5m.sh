#!/usr/bin/env bash
# Session 24: step 2 for ens5m (docs/results/v23/rule.md, last amendment), the ablation trainings paused meanwhile.
set -euo pipefail
cd /work/main; . .venv/bin/activate
ABL=$(pgrep -f "saess.cli train" | tr '\n' ' ' || true)
[ -n "$ABL" ] && kill -STOP $ABL && trap "kill -CONT $ABL" EXIT
date; THREADS=2 docs/results/v20/step2.sh ens5m runs/s24/ens5m
date; echo step2 done
