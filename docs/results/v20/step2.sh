#!/usr/bin/env bash
# Session 20: step 2 of docs/results/v20/rule.md (the 400 + 200 probe of docs/results/v15/rule.md) for one model.
# Usage: step2.sh NAME MODEL   (e.g. step2.sh v20cd runs/s20/v20cd-cal)
# 1. the probe (docs/results/v15/probe.sh: runs/s15/probe-NAME, rejudged by trained:refusal) and O by source;
# 2. H: every probe reading of earlier models (their keys renamed to MODEL) carried over to the same texts
#    (docs/results/v13/transfer_reads.py); the texts no one has read are listed for two blind readers
#    (read_run.py sheet --keys runs/s20/unread-NAME.txt).
set -euo pipefail
cd /work/main
. .venv/bin/activate
N=$1; M=$2
THREADS=${THREADS:-2} docs/results/v15/probe.sh "$N=$M"
python docs/results/v18/probe_o.py runs/s15/probe-$N-rejudged | tee runs/s20/O-$N.txt
mkdir -p runs/s20/prior-$N
i=0
for f in docs/results/v16/read-probe-v15c/readings.jsonl docs/results/v17/read-probe-v15cf/readings.jsonl \
         docs/results/v18/read-probe-v15cfr/readings.jsonl docs/results/v18/readings-v15cfr2-probe.jsonl \
         docs/results/v15/read-probe-default/readings.jsonl docs/results/v15/read-probe-v14c/readings.jsonl \
         docs/results/v15/read-probe-v15/readings.jsonl; do
  i=$((i+1))
  python - "$f" "$M" runs/s20/prior-$N/$i.jsonl <<'PY'
import json, sys
src, model, out = sys.argv[1:]
rows = []
for line in open(src, encoding="utf-8"):
    j = json.loads(line)
    if "key" in j and j.get("label"):
        j["key"] = model + "\t" + j["key"].split("\t", 1)[1]
        rows.append(j)
open(out, "w", encoding="utf-8").write("".join(json.dumps(r) + "\n" for r in rows))
PY
done
python docs/results/v13/transfer_reads.py runs/s20/prior-$N/1.jsonl runs/s15/probe-$N \
  $(for k in 2 3 4 5 6 7; do echo --also runs/s20/prior-$N/$k.jsonl; done) \
  --json runs/s20/readings-$N-probe.jsonl --unread runs/s20/unread-$N.txt | tee runs/s20/H-$N.txt
