#!/usr/bin/env bash
# v17r (issue 11, session 17; docs/results/v17/rule.md, "v17r"): v15c's command with more benign prompts of
# the preferred sources answered by the base model (--retain-limit 1800 instead of 560: 1,800 of their 4,166
# unanswered prompts): benign windows cut from answers to prompts that sound harmful, the issue's lever 5
# ("every benign training prompt gets a helpful answer") on the windows that refuse benign edgy answers.
# Usage: train_v17r.sh SNAP OUT   (resumable: retain answers and completions are cached per prompt, phase 1
# checkpoints). v15c's retain answers and completions seed OUT/data, so only the new answers are generated.
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2")
mkdir -p "$OUT/data"
V15C=/work/main/runs/s15/v15c/data
[ -e "$OUT/data/retain.jsonl" ] || cp "$V15C/retain.jsonl" "$OUT/data/"
for f in "$V15C"/completions-*.jsonl; do [ -e "$OUT/data/$(basename "$f")" ] || cp "$f" "$OUT/data/"; done
KV=${KV:-/work/main/runs/s14/kv} exec /work/main/docs/results/v9/train_v9.sh "$SNAP" "$OUT" --cls-adapter-r 8 \
  --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 --retain-limit 1800
