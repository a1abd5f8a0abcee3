#!/usr/bin/env bash
# Session 23: the base model's answers to the recipe's validation prompts (lost with runs/ in session 22), as
# sessions 7 and 14 made them: runs/s14/val_answers.jsonl (623 benign, 128 tokens), val_mal_answers.jsonl (435, 96).
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
date; THREADS=1 docs/results/v7/val_answers.sh runs/s14
date; python docs/results/v14/val_harmful_windows.py prompts runs/s14/val_mal_prompts.jsonl
saess -q generate --model base --reliance off --prompts runs/s14/val_mal_prompts.jsonl --max-new-tokens 96 \
  --batch-size 32 --out runs/s14/val_mal_answers.jsonl
date; echo valans done
