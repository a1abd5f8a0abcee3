#!/usr/bin/env bash
# garak 0.17.1 (its own venv: python3 -m venv /work/garak-venv && pip install torch==2.13.0 garak==0.17.1)
# against a model served by `saess serve`, through garak's OpenAI-compatible generator. Probes that need no
# hub download; greedy, 64 new tokens, one generation per prompt, at most CAP prompts per probe.
# Usage: docs/results/serve/garak_run.sh MODEL OUTDIR [CAP]
set -euo pipefail
MODEL=$1; OUT=$(realpath -m "$2"); CAP=${3:-20}; PORT=${PORT:-8766}
GARAK=${GARAK_VENV:-/work/garak-venv}
PROBES=${PROBES:-dan.Dan_11_0,dan.DAN_Jailbreak,dan.AntiDAN,dan.DanInTheWild,encoding.InjectBase64,encoding.InjectHex,encoding.InjectROT13,promptinject.HijackHateHumans,suffix.GCGCached}
mkdir -p "$OUT"
saess serve --model "$MODEL" --port "$PORT" --max-batch-size 8 > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 1; done
cat > "$OUT/garak.yaml" <<YAML
system:
  parallel_attempts: 8
  lite: true
run:
  generations: 1
  soft_probe_prompt_cap: $CAP
  seed: 0
plugins:
  target_type: openai.OpenAICompatible
  target_name: $MODEL
  probe_spec: $PROBES
  generators:
    openai:
      OpenAICompatible:
        uri: http://127.0.0.1:$PORT/v1
        max_tokens: 64
        temperature: 0.0
        suppressed_params: [frequency_penalty, presence_penalty, stop]
reporting:
  report_dir: $OUT
  report_prefix: garak
YAML
OPENAICOMPATIBLE_API_KEY=none "$GARAK/bin/garak" --config "$OUT/garak.yaml" > "$OUT/garak.log" 2>&1
kill $SERVER; wait $SERVER 2>/dev/null || true; trap - EXIT
python3 - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = []
for line in (out / "garak.report.jsonl").read_text().splitlines():
    d = json.loads(line)
    if d.get("entry_type") == "eval":
        rows.append({k: d.get(k) for k in ("probe", "detector", "passed", "fails", "nones", "total_evaluated", "total_processed")})
(out / "evals.json").write_text(json.dumps(rows, indent=2) + "\n")
for r in rows:
    print(r)
PY
