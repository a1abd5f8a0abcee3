#!/usr/bin/env bash
# Session 22: once aug22 has trained and the ablation pass is over: aug22 becomes the `aug` artifact, and the
# reproduction reruns the aug steps and GCG (now with nanoGCG installed), two threads.
set -u
cd /work/main; . .venv/bin/activate
while [ ! -e runs/train-aug22/final/saess_config.json ] || pgrep -f after22b.sh > /dev/null; do sleep 15; done
sleep 5
A=saess/artifacts/aug
find $A -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
cp -r runs/train-aug22/final/. $A/
python3 - <<'PY'
import json, shutil
from pathlib import Path
out = Path("runs/reproduce22"); st = json.loads((out / "state.json").read_text())
for k in ("v-aug", "tokens-aug", "extra-aug", "harmbench-aug"):
    st["steps"].pop(k, None); shutil.rmtree(out / k, ignore_errors=True)
(out / "state.json").write_text(json.dumps(st, indent=2))
PY
date; saess reproduce --no-train --threads 2 --out runs/reproduce22 --figures runs/reproduce22/figures --only main,gcg
date; echo after22c done
