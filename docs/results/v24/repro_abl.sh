#!/usr/bin/env bash
# Session 24: once lam0.1 and lam0.01 are trained, the RESULTS.md ablation rows (docs/reproduce.md; resumable).
set -uo pipefail
cd /work/main; . .venv/bin/activate
until [ -f runs/train-lam0.1/final/saess_config.json ] && [ -f runs/train-lam0.01/final/saess_config.json ] \
      && ! pgrep -f "saess.cli train" > /dev/null; do sleep 20; done
date; saess reproduce --no-train --threads 2 --out runs/reproduce22 --figures runs/reproduce22/figures --only ablations,hyper
echo "rc $?"; date
