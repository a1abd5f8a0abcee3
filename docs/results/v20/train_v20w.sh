#!/usr/bin/env bash
# v20w (issue 11, session 20, docs/results/v20/rule.md): v15c's command with a window [CLS] (--window-cls), v15c's retain
# answers and harmful completions taken as they are (v19w's script: --answers-from runs/s15/v15c/data).
# Usage: train_v20w.sh SNAP OUT   (SNAP: `git archive` of a commit with --window-cls, without contrast parts k-o)
set -euo pipefail
[ ! -e "$1/saess/data/contrast/part_k.jsonl" ] || { echo "$1: has contrast part k (that is v20wo8's snapshot)" >&2; exit 2; }
exec "$(dirname "$0")/../v19/train_v19w.sh" "$@" --window-cls
