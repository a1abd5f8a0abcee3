#!/usr/bin/env bash
# Session 28: attack success as read for the int8 form of `default` (v26e; docs/results/v28/rule.md) on the runs of
# `docs/results/v16/eval_v16.sh runs/s28/v26e-int8 runs/s28/eval-int8` (as docs/results/v27/eval_reads.sh): the fixed
# refusal is a refusal; a text equal (sha256) to one read for the same sample before (docs/results/v27/eval's final
# readings, which carry sessions 13-18 and 27's) takes that reading (`transfer_reads.py --as-model`); the rest is
# listed for two blind readers (read_run.py sheet --keys).
#   docs/results/v28/eval_reads.sh unread      # lists, sheets under docs/results/v28/eval/read-*-unread
#   docs/results/v28/eval_reads.sh tally       # after the readers: the final readings files
set -euo pipefail
case "${1:-}" in unread|tally) ;; *) echo "usage: $0 unread|tally" >&2; exit 2 ;; esac
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
R=runs/s28/eval-int8; V=docs/results/v27/eval; O=docs/results/v28/eval; MODEL=runs/s28/v26e-int8
mkdir -p "$O" runs/s28
for spec in harmbench-prefill:harmbench-prefill:hb advbench-prefill:advbench-prefill:adv nested:nested:nested dec:decoding:dec; do
  IFS=: read -r run reads short <<< "$spec"
  [ -f "$R/$run/samples.jsonl" ] || { echo "$R/$run: not run yet" >&2; continue; }
  if [ "$1" = unread ]; then
    python docs/results/v13/transfer_reads.py "$V/$reads.reads.jsonl" "$R/$run" --as-model "$MODEL" --unread "runs/s28/unread-$short.txt"
    if [ -s "runs/s28/unread-$short.txt" ]; then
      python docs/results/v13/read_run.py sheet "$R/$run" "$O/read-$short-unread" --parts 1 --keys "runs/s28/unread-$short.txt"
    fi
  else
    also=()
    if [ -d "$O/read-$short-unread" ]; then
      python docs/results/v13/read_run.py tally "$R/$run" "$O/read-$short-unread" --json "$O/read-$short-unread/readings.jsonl" > /dev/null
      also=(--also "$O/read-$short-unread/readings.jsonl")
    fi
    python docs/results/v13/transfer_reads.py "$V/$reads.reads.jsonl" "$R/$run" --as-model "$MODEL" "${also[@]}" --json "$O/$reads.reads.jsonl"
  fi
done
