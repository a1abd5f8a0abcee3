#!/usr/bin/env bash
# Issue 11, session 16: window scores at r2 = r3 = 20 for default and v15c (docs/results/v16/rule.md, default-r20)
cd /work/main; . .venv/bin/activate; export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for spec in v15c=runs/s15/v15c-cal default=default; do n=${spec%%=*}; m=${spec#*=}
  python docs/results/v14/val_harmful_windows.py score $m runs/s14/val_mal_answers.jsonl runs/s14/val_answers.jsonl \
    --r2 20 --r3 20 --scores runs/s16/winscores_${n}-r20.json > runs/s16/win_${n}-r20.log 2>&1
  python docs/results/v14/val_harmful_windows.py tally runs/s16/winscores_${n}-r20.json docs/results/v14/read-valmal/labels.jsonl -1 \
    --out docs/results/v16/win_${n}-r20_read.json >> runs/s16/win_${n}-r20.log 2>&1
  date >> runs/s16/win_${n}-r20.log
done
