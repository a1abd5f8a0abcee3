#!/usr/bin/env bash
# Session 26, `v26e` (docs/results/v26/rule.md): ens5m's offline band table on the validation split, v26al paused.
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
TR=$(pgrep -f "saess.cli train" | tr '\n' ' ' || true)
[ -n "$TR" ] && kill -STOP $TR && trap "kill -CONT $TR" EXIT
M=runs/s24/ens5m
date
python docs/results/v18/window_look.py $M runs/s26/probe_benign_base.jsonl runs/s26/look_ens5m.jsonl runs/s26/val_mal_prefill_base.jsonl
date
python docs/results/v10/confirm_probe.py $M runs/s26/val_starts.jsonl runs/s26/val_labelled.jsonl 10 \
  --out runs/s26/confirm_ens5m.jsonl > runs/s26/confirm_ens5m.log
date
python docs/results/v26/band_table.py runs/s26/look_ens5m.jsonl runs/s26/confirm_ens5m_r10.jsonl $M --strict \
  --grid-extra 0.96,0.97,0.98 --out runs/s26/band_ens5m.json | tee docs/results/v26/band_ens5m.md
date; echo look done
