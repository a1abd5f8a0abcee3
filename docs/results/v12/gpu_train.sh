#!/usr/bin/env bash
# Issue 11, session 12, device call 2: lever 3's comparison, the paper's phase 1 (LoRA on the LM with L_lm
# on 16 sampled positions + lam1 * L_cls) against v11's [CLS]-only adapter, on v11's data (parts a-j,
# v11's retain answers and harmful completions) at v11's budget of 3 epochs, which 2 CPU cores cannot
# afford (about 95 min per epoch). Then the same GPU path for generation (a short eval on the
# validation prompts), then v11's recipe at 8 epochs (the budget lever) while time remains.
# Usage (device machine, repo root): docs/results/v12/gpu_train.sh   (results: $OUT/NAME.tgz, NAME.log)
. docs/results/v12/gpu_env.sh
BASE=(--variant cls --phase1-views --harmful-completions 192 --phase1-batch-size 16 --phase1-head-lr 3e-3
  --phase2-steps 0 --retain-limit 560 --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train
  --retain-max-new-tokens 96 --phase1-limit 7000 --val-views-limit 300)
train() {  # NAME SECONDS flags...
  local n=$1 t=$2; shift 2
  mkdir -p runs/gpu/$n/data && cp .dev/data/retain.jsonl .dev/data/completions.jsonl runs/gpu/$n/data/
  local s=$SECONDS
  timeout "$t" python3 -m saess.cli train "${BASE[@]}" --out runs/gpu/$n "$@" > "$OUT/$n.log" 2>&1
  echo "$n: exit $? after $((SECONDS - s)) s"
  [ -d runs/gpu/$n/final ] && tar czf "$OUT/$n.tgz" -C runs/gpu/$n final data/recipe_stats.json
}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
train v12p 300 --cls-adapter-r 0 --phase1-finetune lora --phase1-lm-positions 16 --phase1-epochs 3
[ -d runs/gpu/v12p/final ] && timeout 40 python3 -m saess.cli eval --model runs/gpu/v12p/final \
  --prompts docs/results/v4/val_malicious.jsonl --attack direct --limit 40 --benign none --max-new-tokens 48 \
  --batch-size 40 --out runs/gpu/v12p-eval > "$OUT/v12p-eval.log" 2>&1; echo "eval: exit $?"
train v12e $((430 - SECONDS)) --cls-adapter-r 8 --phase1-epochs 8
