#!/usr/bin/env bash
# v19w (issue 11, session 19, docs/results/v19/rule.md): v15c's command (docs/results/v15/train_v15c.sh) on the
# package with contrast parts k-n. Its retain set and harmful completions are v15c's, taken as they are
# (--answers-from), so the new parts add their query views and labelled texts to phase 1 and nothing is generated.
# Usage: train_v19w.sh SNAP OUT   (resumable: phase 1 checkpoints; the key/value store is shared)
set -euo pipefail
SNAP=$1; OUT=$(realpath -m "$2")
FROM=/work/main/runs/s15/v15c/data
mkdir -p "$OUT/data"
for f in retain.jsonl completions-b40ce3749e.jsonl; do [ -e "$OUT/data/$f" ] || cp "$FROM/$f" "$OUT/data/"; done
KV=${KV:-/work/main/runs/s14/kv} exec /work/main/docs/results/v9/train_v9.sh "$SNAP" "$OUT" --cls-adapter-r 8 \
  --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 --answers-from "$FROM" "${@:3}"
