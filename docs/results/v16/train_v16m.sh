#!/usr/bin/env bash
# v16m (issue 11, session 16, written in docs/results/v16/rule.md before any of its numbers): v15c's recipe with
# both kinds of harmful completion. The base model's 768 completions of 128 tokens written bare (v15c's) and the
# same prompts continued after v15's four affirmative openings (v15's), phase-1 windows anywhere in the first
# 112 response tokens. v15 showed the openings move the query head (TPR 0.930) but cost the windows (40.6%);
# v15c kept the windows (73.3%) with the best query head (0.944). Both kinds in one run test whether the
# openings add to v15c's query side without taking from its windows.
# Usage: train_v16m.sh SNAP OUT   (SNAP: `git archive` of the tree; resumable: the completions are cached per
# setting, and v15's and v15c's caches are copied in when present, so only phase 1 trains)
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2")
mkdir -p "$OUT/data"
[ -e "$OUT/data/retain.jsonl" ] || cp /work/main/runs/s14/v14c/data/retain.jsonl "$OUT/data/"
for d in /work/main/runs/s15/v15/data /work/main/runs/s15/v15c/data; do
  for f in "$d"/completions-*.jsonl; do [ -e "$f" ] && [ ! -e "$OUT/data/${f##*/}" ] && cp "$f" "$OUT/data/"; done
done
KV=${KV:-/work/main/runs/s14/kv} exec /work/main/docs/results/v9/train_v9.sh "$SNAP" "$OUT" --cls-adapter-r 8 \
  --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --completion-prefill "Sure, here is" --completion-prefill "Of course. Here are the steps:" \
  --completion-prefill "Here is what you need to know:" --completion-prefill "Absolutely! First," \
  --completion-bare-too
