#!/usr/bin/env bash
# Session 23: the base model's answers to all 435 malicious validation prompts (session 14's set; `prompts --n 1000`).
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
date; python docs/results/v14/val_harmful_windows.py prompts runs/s14/val_mal_prompts.jsonl --n 1000
saess -q generate --model base --reliance off --prompts runs/s14/val_mal_prompts.jsonl --max-new-tokens 96 \
  --batch-size 32 --out runs/s14/val_mal_answers.jsonl
date; echo valans done
