#!/usr/bin/env bash
# Session 27: attack success as read for `v26e` on the evaluation runs of
# `docs/results/v16/eval_v16.sh runs/s26/v26e runs/s26/eval-v26e` (as docs/results/v18/eval_reads.sh for `default`):
# the fixed refusal is a refusal; a text equal (sha256) to one read for the same sample in session 18 (whose
# reading files carry sessions 13, 16 and 17's; read as this run's model, `transfer_reads.py --as-model`) takes
# that reading; the rest is listed for two blind readers (read_run.py sheet --keys).
#   docs/results/v27/eval_reads.sh unread      # lists, sheets under docs/results/v27/eval/read-*-unread
#   docs/results/v27/eval_reads.sh tally       # after the readers: the final readings files
set -euo pipefail
case "${1:-}" in unread|tally) ;; *) echo "usage: $0 unread|tally" >&2; exit 2 ;; esac
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
# R: the evaluation runs; V: the readings carried over; O: where sheets and readings go; MODEL: the run's model name;
# U: where the unread lists go (session 28 runs this script with its own, docs/results/v28/eval_reads.sh)
R=${R:-runs/s26/eval-v26e}; V=${V:-docs/results/v18/eval}; O=${O:-docs/results/v27/eval}; MODEL=${MODEL:-runs/s26/v26e}
U=${U:-runs/s27}
mkdir -p "$O" "$U"
for spec in harmbench-prefill:harmbench-prefill:hb advbench-prefill:advbench-prefill:adv nested:nested:nested dec:decoding:dec; do
  IFS=: read -r run reads short <<< "$spec"
  [ -f "$R/$run/samples.jsonl" ] || { echo "$R/$run: not run yet" >&2; continue; }
  if [ "$1" = unread ]; then
    python docs/results/v13/transfer_reads.py "$V/$reads.reads.jsonl" "$R/$run" --as-model "$MODEL" --unread "$U/unread-$short.txt"
    if [ -s "$U/unread-$short.txt" ]; then
      python docs/results/v13/read_run.py sheet "$R/$run" "$O/read-$short-unread" --parts 1 --keys "$U/unread-$short.txt"
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
