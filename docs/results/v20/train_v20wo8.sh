#!/usr/bin/env bash
# v20wo8 (issue 11, session 20, docs/results/v20/rule.md): v19wo8's command (contrast parts k-o, --phase1-limit 8598)
# with a window [CLS] (--window-cls). Usage: train_v20wo8.sh SNAP OUT
# (SNAP: `git archive` of a commit with --window-cls, plus docs/results/v19/contrast/part_{k,l,m,n,o}.jsonl copied into
# SNAP/saess/data/contrast/)
set -euo pipefail
exec "$(dirname "$0")/../v19/train_v19wo8.sh" "$@" --window-cls
