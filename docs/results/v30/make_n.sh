#!/usr/bin/env bash
# Session 30 (docs/results/v30/rule.md, second candidate): step 0 of pqrs-s5, pqrs-s6, step 1 of ens7n and ens9n, and the
# candidate built for step 2.  Usage: docs/results/v30/make_n.sh [score|side|build NAME]
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
R=runs/s30 D=docs/results/v30 E5=v15c,v15c-s1,v15c-s2,v15c-s3,v15c-s4
case ${1:-all} in
  score|all)
    for s in 5 6; do
      [ -e $R/ens/pqrs-s$s.json ] || python $D/score_query.py pqrs-s$s $R/pqrs-s$s/final > $R/score_pqrs-s$s.log 2>&1 &
    done; wait ;;&
  side|all)
    python $D/query_side.py --members $E5,pqrs-s5,pqrs-s6 --out $D/query_side_ens7n.json | tail -4
    python $D/query_side.py --members $E5,ko8-s5,ko8-s6,pqrs-s5,pqrs-s6 --out $D/query_side_ens9n.json | tail -4 ;;
  build)
    N=$2  # ens7n or ens9n: the one step 1 sends to step 2
    case $N in ens7n) M="--member $R/pqrs-s5/final --member $R/pqrs-s6/final" ;;
               ens9n) M="--member runs/s29/ko8-s5/final --member runs/s29/ko8-s6/final --member $R/pqrs-s5/final --member $R/pqrs-s6/final" ;;
               *) echo "unknown candidate $N"; exit 2 ;; esac
    [ -e $R/$N-raw ] || saess ensemble --member runs/s29/v15cfr2 $(for s in 1 2 3 4; do echo --member runs/s23/v15c-s$s/final; done) \
      $M --window-members 5 --out $R/$N-raw
    [ -e $R/$N ] || { rm -rf $R/$N.tmp; cp -r $R/$N-raw $R/$N.tmp
      python $D/set_query_threshold.py $R/$N.tmp $D/query_side_$N.json && mv $R/$N.tmp $R/$N; } ;;
esac
date; echo "make_n ${1:-all} done"
