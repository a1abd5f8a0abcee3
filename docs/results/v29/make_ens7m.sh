#!/usr/bin/env bash
# Session 29 (docs/results/v29/rule.md): step 0 of the two new members, step 1, and `ens7m` built for step 2.
# Usage: docs/results/v29/make_ens7m.sh [score|table|build|ens7w]   (each stage skipped when its output exists)
set -euo pipefail
cd /work/main; . .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
R=runs/s29
case ${1:-all} in
  score|all)
    # step 0 of each new member (one thread each, in parallel); the five old members' scores are runs/s23/ens's
    mkdir -p $R/ens; cp -n runs/s23/ens/*.json $R/ens/
    for s in 5 6; do
      [ -e $R/ens/ko8-s$s.json ] || python docs/results/v23/ensemble.py score ko8-s$s $R/ko8-s$s/final --dir $R/ens \
        > $R/score_ko8-s$s.log 2>&1 &
    done; wait ;;&
  table|all)
    python docs/results/v29/matched.py --out docs/results/v29/matched.json > /dev/null
    python docs/results/v23/ensemble.py table v15c v15c+v15c-s1+v15c-s2+v15c-s3+v15c-s4 ko8-s5 ko8-s6 \
      v15c+v15c-s1+v15c-s2+v15c-s3+v15c-s4+ko8-s5+ko8-s6 --dir $R/ens --out docs/results/v29/step0.json \
      | tee docs/results/v29/step0.md ;;&
  build|all)
    # member 0 = v15cfr2 as committed at 1a0d2e3 (the member v26e names; its config gives the decoding settings)
    [ -e $R/v15cfr2 ] || { mkdir -p $R/v15cfr2.tmp; git archive 1a0d2e3 saess/artifacts/default | tar -x -C $R/v15cfr2.tmp
      mv $R/v15cfr2.tmp/saess/artifacts/default $R/v15cfr2; rm -rf $R/v15cfr2.tmp; }
    [ -e $R/ens7 ] || saess ensemble --member $R/v15cfr2 $(for s in 1 2 3 4; do echo --member runs/s23/v15c-s$s/final; done) \
      --member $R/ko8-s5/final --member $R/ko8-s6/final --out $R/ens7
    [ -e $R/ens7m ] || python docs/results/v29/set_matched.py $R/ens7 $R/ens7m ;;&
  ens7w|all)
    # the amendment's candidate: the same seven members, the first five judging the answer windows
    [ -e $R/v15cfr2 ] || { echo "run the build stage first"; exit 1; }
    [ -e $R/ens7-w5 ] || saess ensemble --member $R/v15cfr2 $(for s in 1 2 3 4; do echo --member runs/s23/v15c-s$s/final; done) \
      --member $R/ko8-s5/final --member $R/ko8-s6/final --window-members 5 --out $R/ens7-w5
    [ -e $R/ens7w ] || python docs/results/v29/set_matched.py $R/ens7-w5 $R/ens7w --window-from ens5 ;;
esac
date; echo "make_ens7m ${1:-all} done"
