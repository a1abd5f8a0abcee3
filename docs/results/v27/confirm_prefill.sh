#!/usr/bin/env bash
# Session 27 (docs/results/v27/rule.md, `v27c`): the confirmation views (query + first 10 response tokens) of the
# base model's prefilled answers to the 435 malicious validation prompts (runs/s26/val_prefill_starts.jsonl, made by
# runs/s26/gen.sh as docs/results/v27/make_v26e.sh's stage 10 does), scored by the ensemble (v26e's weights).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
export OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
mkdir -p runs/s27
python - <<'PY'
import json
with open("runs/s27/val_prefill_labelled.jsonl", "w") as out:
    for line in open("runs/s26/val_prefill_starts.jsonl", encoding="utf-8"):
        out.write(json.dumps({"prompt": json.loads(line)["prompt"], "label": 1}) + "\n")
PY
python docs/results/v10/confirm_probe.py saess/artifacts/default runs/s26/val_prefill_starts.jsonl \
  runs/s27/val_prefill_labelled.jsonl 10 --out runs/s27/confirm_ens5m_prefill.jsonl > runs/s27/confirm_ens5m_prefill.log
python docs/results/v26/confirm_table.py runs/s26/look_ens5m.jsonl runs/s26/confirm_ens5m_r10.jsonl \
  runs/s27/confirm_ens5m_prefill_r10.jsonl saess/artifacts/default --out runs/s27/confirm_v27c.json \
  | tee docs/results/v27/confirm_v27c.md
