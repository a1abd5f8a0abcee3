#!/usr/bin/env bash
# Issue 11, session 12, second device lease: after `saess train --device` (the first lease showed that
# `saess train` never moved the model to the GPU), (a) the tests of training, the [CLS]-only adapter
# and the pipeline with their tiny models on the GPU (SAESS_TEST_DEVICE=cuda; in the background), and
# (b) v12p: the paper's phase 1 (LoRA on the LM, L_lm on 16 sampled positions + lam1 * L_cls) on v11's
# data at v11's budget (3 epochs), on the GPU. Its final model, or else its last checkpoint (to resume
# on the CPU), comes back as $OUT/v12p.tgz.* (split at 15 MB).
# Usage (device machine, repo root): docs/results/v12/gpu_v12p.sh SECONDS
. docs/results/v12/gpu_env.sh
SAESS_TEST_DEVICE=cuda timeout 200 python3 -m pytest -q -p no:cacheprovider tests/test_training.py tests/test_cls_adapter.py \
  tests/test_pipeline.py > "$OUT/pytest_cuda.log" 2>&1 &
mkdir -p runs/gpu/v12p/data && cp .dev/data/retain.jsonl .dev/data/completions.jsonl runs/gpu/v12p/data/
timeout "${1:-190}" python3 -m saess.cli train --device cuda --variant cls --out runs/gpu/v12p --phase1-views \
  --harmful-completions 192 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 \
  --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 7000 --val-views-limit 300 --cls-adapter-r 0 --phase1-finetune lora --phase1-lm-positions 16 \
  --phase1-epochs 3 > "$OUT/v12p.log" 2>&1
echo "v12p: exit $? after $SECONDS s"
if [ -d runs/gpu/v12p/final ]; then tar czf /tmp/v12p.tgz -C runs/gpu/v12p final phase1/train_log.jsonl
else tar czf /tmp/v12p.tgz -C runs/gpu/v12p phase1; fi
split -b 15M /tmp/v12p.tgz "$OUT/v12p.tgz."
wait; tail -5 "$OUT/pytest_cuda.log"
