#!/usr/bin/env bash
# Session 23: v15c-s3 and v15c-s4 in parallel (one thread each; seeds.sh's command), then their step-0 scores.
set -u
cd /work/main
for s in 3 4; do
  ( SEEDS=$s runs/s23/seeds.sh > runs/s23/seed$s.log 2>&1
    . .venv/bin/activate; export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
    python docs/results/v23/ensemble.py score v15c-s$s runs/s23/v15c-s$s/final 2> runs/s23/score_v15c-s$s.log ) &
done
wait; date; echo seeds34 done
