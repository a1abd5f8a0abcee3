#!/usr/bin/env bash
# Session 30 (docs/results/v30/rule.md): step 0 of the two query-only members, step 1, and `ens7q` built for step 2.
# Usage: docs/results/v30/make_ens7q.sh [score|side|build]   (each stage skipped when its output exists)
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
R=runs/s30 D=docs/results/v30
case ${1:-all} in
  score|all)
    for s in 5 6; do  # one thread each, in parallel
      [ -e $R/ens/qs-s$s.json ] || python $D/score_query.py qs-s$s $R/qs-s$s/final > $R/score_qs-s$s.log 2>&1 &
    done; wait ;;&
  side|all)
    python $D/query_side.py --out $D/query_side.json | tail -4 ;;&
  build|all)
    # member 0 = v15cfr2 as committed at 1a0d2e3 (session 29's copy; its config gives v26e's decoding settings)
    [ -e $R/ens7-q5 ] || saess ensemble --member runs/s29/v15cfr2 \
      $(for s in 1 2 3 4; do echo --member runs/s23/v15c-s$s/final; done) \
      --member $R/qs-s5/final --member $R/qs-s6/final --window-members 5 --out $R/ens7-q5
    # the query threshold: the seven's mean at the matched TPR; windows: v26e's threshold, bands and settings
    [ -e $R/ens7q ] || { rm -rf $R/ens7q.tmp; cp -r $R/ens7-q5 $R/ens7q.tmp
      python $D/set_query_threshold.py $R/ens7q.tmp $D/query_side.json && mv $R/ens7q.tmp $R/ens7q; } ;;
esac
date; echo "make_ens7q ${1:-all} done"
