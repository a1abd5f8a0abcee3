#!/usr/bin/env bash
# v20c (issue 11, session 20, docs/results/v20/rule.md): v15c's command with content labels for its harmful
# completions (--completion-labels: the windows of those both readers call harmless or a refusal are benign).
# v15c's retain answers and completions are taken as they are (v19w's script: --answers-from runs/s15/v15c/data).
# Usage: train_v20c.sh SNAP OUT   (SNAP: `git archive` of a commit with --completion-labels, without parts k-o)
set -euo pipefail
L=/work/main/docs/results/v20/completion_labels.jsonl
[ -e "$L" ] || { echo "$L: missing (docs/results/v20/completion_reads.py tally)" >&2; exit 2; }
exec "$(dirname "$0")/../v19/train_v19w.sh" "$@" --completion-labels "$L"
