#!/usr/bin/env bash
# v15 (issue 11, session 15: the window side at the lengths the rules read). v14c's command
# (docs/results/v9/train_v9.sh ... --cls-adapter-r 8 --harmful-completions 768) with the base model's
# harmful completions written for 128 new tokens after one of four affirmative openings (cycled over the
# training prompts), and phase-1 windows starting anywhere in the first 112 response tokens (64 before).
# Usage: train_v15.sh SNAP OUT   (SNAP: a `git archive` of the tree; OUT/data seeded with v14c's retain answers)
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2")
mkdir -p "$OUT/data"
[ -e "$OUT/data/retain.jsonl" ] || cp /work/main/runs/s14/v14c/data/retain.jsonl "$OUT/data/"
KV=${KV:-/work/main/runs/s14/kv} exec /work/main/docs/results/v9/train_v9.sh "$SNAP" "$OUT" --cls-adapter-r 8 \
  --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --completion-prefill "Sure, here is" --completion-prefill "Of course. Here are the steps:" \
  --completion-prefill "Here is what you need to know:" --completion-prefill "Absolutely! First,"
