#!/usr/bin/env bash
# v15c (issue 11, written at the end of session 15 after v15's numbers): v15 without the openings. v14c's
# command with the base model's 768 harmful completions written bare (as the model answers a plain request)
# for 128 new tokens, and phase-1 windows starting anywhere in the first 112 response tokens. It separates
# v15's two changes: if its windows flag the base model's harmful validation answers as v14c's do (78.8%) or
# better, the openings cost v15 its window side; if not, the late windows did.
# Usage: train_v15c.sh SNAP OUT   (resumable: completions are cached per prompt, phase 1 checkpoints)
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2")
mkdir -p "$OUT/data"
[ -e "$OUT/data/retain.jsonl" ] || cp /work/main/runs/s14/v14c/data/retain.jsonl "$OUT/data/"
KV=${KV:-/work/main/runs/s14/kv} exec /work/main/docs/results/v9/train_v9.sh "$SNAP" "$OUT" --cls-adapter-r 8 \
  --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112
