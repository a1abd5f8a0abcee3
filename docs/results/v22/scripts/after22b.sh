#!/usr/bin/env bash
# Session 22: once noviews and sft22 have trained: sft22 becomes the `sft` artifact, aug trains (one thread), and the
# reproduction reruns what changed (one thread): the ablations now trained, the sft steps, the probe (new columns).
set -u
cd /work/main; . .venv/bin/activate
while [ ! -e runs/train-noviews/final/saess_config.json ] || [ ! -e runs/train-sft22/final/saess_config.json ]; do sleep 20; done
sleep 10
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
A=saess/artifacts/sft
find $A -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
cp -r runs/train-sft22/final/. $A/
python3 - <<'PY'
import json, shutil
from pathlib import Path
out = Path("runs/reproduce22"); st = json.loads((out / "state.json").read_text())
for k in ("v-sft", "tokens-sft", "extra-sft", "harmbench-sft", "probe"):
    st["steps"].pop(k, None); shutil.rmtree(out / k, ignore_errors=True)
(out / "probe.json").unlink(missing_ok=True)
st["steps"]["gcg"]["status"] = "partial"  # the old code called it done without its standard half
(out / "state.json").write_text(json.dumps(st, indent=2))
PY
date; saess reproduce --no-train --threads 1 --out runs/reproduce22 --figures runs/reproduce22/figures --only main,ablations,probe
date; echo after22 done
