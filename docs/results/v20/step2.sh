#!/usr/bin/env bash
# Session 20: step 2 of docs/results/v20/rule.md (the 400 + 200 probe of docs/results/v15/rule.md) for one model.
# Usage: step2.sh NAME MODEL   (e.g. step2.sh v20cd runs/s20/v20cd-cal)
# 1. the probe (docs/results/v15/probe.sh: runs/s15/probe-NAME, rejudged by trained:refusal) and O by source;
# 2. H: every probe reading of earlier models (read as MODEL's: transfer_reads.py --as-model) carried over to the same texts
#    (docs/results/v13/transfer_reads.py); the texts no one has read are listed for two blind readers
#    (read_run.py sheet --keys runs/s20/unread-NAME.txt).
set -euo pipefail
cd /work/main
. .venv/bin/activate
N=$1; M=$2
THREADS=${THREADS:-2} docs/results/v15/probe.sh "$N=$M"
python docs/results/v18/probe_o.py runs/s15/probe-$N-rejudged | tee runs/s20/O-$N.txt
P=(docs/results/v16/read-probe-v15c/readings.jsonl docs/results/v17/read-probe-v15cf/readings.jsonl
   docs/results/v18/read-probe-v15cfr/readings.jsonl docs/results/v18/readings-v15cfr2-probe.jsonl
   docs/results/v15/read-probe-default/readings.jsonl docs/results/v15/read-probe-v14c/readings.jsonl
   docs/results/v15/read-probe-v15/readings.jsonl)
python docs/results/v13/transfer_reads.py "${P[0]}" runs/s15/probe-$N --as-model "$M" \
  $(for f in "${P[@]:1}"; do echo --also "$f"; done) \
  --json runs/s20/readings-$N-probe.jsonl --unread runs/s20/unread-$N.txt | tee runs/s20/H-$N.txt
