#!/usr/bin/env bash
# after noadapter: noviews and sft side by side, one thread each
cd /work/main
while [ ! -e runs/train-noadapter/final/saess_config.json ]; do sleep 20; done
sleep 5; pkill -f train_abl22.sh; pkill -f "saess train"; sleep 5
. .venv/bin/activate; export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
RECIPE="--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112 \
  --cls-adapter-r 8 --phase1-epochs 3 \
  --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0 --retain-limit 560 --retain-shuffle \
  --retain-prefer contrast,edgy_handwritten,overrefusal_train --retain-max-new-tokens 96 \
  --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off --kv-store runs/kv22"
mkdir -p runs/train-noviews/data runs/train-sft22/data runs/train-aug22/data
cp -n runs/train-noadapter/data/retain.jsonl runs/train-noadapter/data/completions-*.jsonl runs/train-noviews/data/
cp -n runs/train-noadapter/data/retain.jsonl runs/train-sft22/data/
cp -n runs/train-noadapter/data/retain.jsonl runs/train-aug22/data/
(date; saess train $RECIPE --out runs/train-noviews; date) > runs/train-noviews.log 2>&1 &
(date; saess train --variant sft --out runs/train-sft22 --phase1-steps 0 --phase2-steps 200 --lam2 0.5 \
   --retain-limit 560 --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train \
   --retain-max-new-tokens 96; date) > runs/train-sft22.log 2>&1 &
wait
