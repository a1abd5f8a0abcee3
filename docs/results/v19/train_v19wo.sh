#!/usr/bin/env bash
# v19wo (session 19, docs/results/v19/rule.md): v19w's command on a snapshot of the package with contrast parts k-o.
# Usage: train_v19wo.sh SNAP OUT   (SNAP: `git archive` of a commit that has saess/data/contrast/part_o.jsonl)
set -euo pipefail
[ -e "$1/saess/data/contrast/part_o.jsonl" ] || { echo "$1: no saess/data/contrast/part_o.jsonl" >&2; exit 2; }
exec "$(dirname "$0")/train_v19w.sh" "$@"
