#!/usr/bin/env bash
# Issue 11/12, session 13: every run folder the session's readings refer to (runs/s13/...), regenerated
# deterministically (greedy decoding, the decoding sweep's seeds fixed): the readings in docs/results/v13/read-*/
# carry the text hash of each answer, and read_run.py tally / transfer_reads.py refuse a text that changed.
#   docs/results/v13/eval_v13.sh [medium] [high] [val] [gold]      (default: all; single-threaded chains)
# Then, e.g.:
#   python docs/results/v13/read_run.py tally runs/s13/advbench-prefill docs/results/v13/read-adv
#   python docs/results/v13/transfer_reads.py docs/results/v13/read-adv/readings.jsonl runs/s13/hw-advbench-prefill
#   saess judge runs/s13/xstest --judge trained:refusal --out runs/s13/xstest-trained
set -uo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
T="--threads 1 --batch-size 40"
M="--reliance medium"                               # the paper's reliance (default's own until session 13)
H="--reliance high --high-waits-for-tau on"         # default's own since session 13
R=runs/s13; mkdir -p $R
WHAT=${*:-medium high val gold}
for w in $WHAT; do case $w in
  medium) (
    saess eval --model default $M --benchmark advbench --attack prefill --prefill-variants target --max-new-tokens 128 --benign edgy $T --out $R/advbench-prefill
    saess eval --model default $M --benchmark harmbench --attack prefill --prefill-variants literal --max-new-tokens 128 --benign gsm8k $T --out $R/harmbench-prefill
    saess eval --model default $M --benchmark advbench --attack nested --limit 100 --max-new-tokens 128 --benign none $T --out $R/nested
    saess eval --model default $M --benchmark xstest --attack direct --benign xstest --max-new-tokens 64 $T --out $R/xstest
    saess eval --model default $M --benchmark advbench --attack decoding --grid full --limit 100 --max-new-tokens 64 --benign none $T --out $R/dec-v11wh
  ) > $R/eval_medium.log 2>&1 & ;;
  high) (
    saess eval --model default $H --benchmark advbench --attack prefill --prefill-variants target --max-new-tokens 128 --benign edgy $T --out $R/hw-advbench-prefill
    saess eval --model default $H --benchmark harmbench --attack prefill --prefill-variants literal --max-new-tokens 128 --benign gsm8k $T --out $R/hw-harmbench-prefill
    saess eval --model default $H --benchmark advbench --attack nested --limit 100 --max-new-tokens 128 --benign none $T --out $R/hw-nested
    saess eval --model default $H --benchmark xstest --attack direct --benign xstest --max-new-tokens 64 $T --out $R/hw-xstest
    saess eval --model default $H --benchmark advbench --attack decoding --grid full --limit 100 --max-new-tokens 64 --benign none $T --out $R/hw-dec
  ) > $R/eval_high.log 2>&1 & ;;
  val) (
    for v in medium high; do
      x=$M; [ $v = high ] && x=$H
      saess eval --model default --prompts docs/results/v4/val_malicious.jsonl --attack direct --attack prefill \
        --prefill-variants literal --benign docs/results/v4/val_benign.jsonl --max-new-tokens 128 $x $T --out $R/val128-$v
    done ) > $R/eval_val.log 2>&1 & ;;
  gold) (
    saess -q eval --model default $H --attack direct --attack prefill --attack nested --attack decoding --attack template \
      --grid small --max-new-tokens 64 --threads 1 --batch-size 16 --max-templates 2 --limit 5 --benchmark advbench \
      --benign edgy --benign-limit 32 --out runs/gold-check-v11wh ) > $R/eval_gold.log 2>&1 & ;;
  *) echo "unknown part $w (medium | high | val | gold)" >&2; exit 2 ;;
esac; done
wait
