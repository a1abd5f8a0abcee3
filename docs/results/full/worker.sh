#!/usr/bin/env bash
# Full-set CPU evaluation for issue 5: a job queue (jobs.txt) shared by workers, one thread each.
# Every job is one resumable `saess eval` run folder runs/full/NAME (64 new tokens, batch 32).
cd /work/main
W=$1
while read -r name args; do
  [ -z "$name" ] && continue
  mkdir runs/full/$name.claim 2>/dev/null || continue
  echo "$(date -Is) worker $W start $name" >> runs/full/queue.log
  t0=$(date +%s)
  env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 /work/venv/bin/saess eval $args --max-new-tokens 64 --batch-size 32 --threads 1 --out runs/full/$name > runs/full/$name.log 2>&1
  rc=$?
  echo "$(date -Is) worker $W end $name rc=$rc $(( $(date +%s) - t0 ))s" >> runs/full/queue.log
done < runs/full/jobs.txt
echo "$(date -Is) worker $W idle" >> runs/full/queue.log
