#!/usr/bin/env bash
# Load benchmark of `saess serve` (issue 13): 1, 4, 8, 16 concurrent streaming clients against the
# served model, and the baseline `saess generate --batch-size 8` on the same prompts, same machine,
# same run. Usage: docs/results/serve/load_bench.sh MODEL OUTDIR [REQUESTS] [MAX_TOKENS]
set -euo pipefail
MODEL=${1:-default}; OUT=${2:-runs/serve-bench}; N=${3:-32}; TOK=${4:-64}; PORT=${PORT:-8765}
mkdir -p "$OUT"
# prompts: the first N safe XSTest prompts (an evaluation set: timing only, nothing is trained or chosen on it)
python - "$OUT/prompts.jsonl" "$N" <<'PY'
import json, sys
from saess.data import sources
ex = sources.load_source("xstest_safe")[: int(sys.argv[2])]
with open(sys.argv[1], "w") as f:
    for e in ex:
        f.write(json.dumps({"prompt": e.prompt}) + "\n")
PY
saess serve --model "$MODEL" --port "$PORT" --max-batch-size 8 > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 1; done
saess serve-bench --url "http://127.0.0.1:$PORT" --model "$MODEL" --prompts "$OUT/prompts.jsonl" \
  --concurrency 1 4 8 16 --requests "$N" --max-tokens "$TOK" > "$OUT/load.json"
kill $SERVER; wait $SERVER 2>/dev/null || true; trap - EXIT
# baseline: what `saess generate --batch-size 8` does (length batches of 8, default strategic
# settings, greedy), in one process, timed after the model is loaded
python - "$OUT" "$MODEL" "$TOK" <<'PY'
import json, sys, time
from pathlib import Path
from saess.generation import SafeGenerator, SamplingConfig, StrategicConfig
from saess.generation.batching import length_batches
from saess.model.registry import load_safety_model
out, name, tok = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
prompts = [json.loads(x)["prompt"] for x in (out / "prompts.jsonl").read_text().splitlines() if x.strip()]
gen = SafeGenerator(load_safety_model(name), StrategicConfig())
sp = SamplingConfig(max_new_tokens=tok)
t0 = time.perf_counter()
ntok = 0
for idx in length_batches([len(gen.model.encoder.encode_chat(p)) for p in prompts], 8):
    ntok += sum(r.num_tokens for r in gen.generate([prompts[i] for i in idx], sampling=sp))
wall = time.perf_counter() - t0
base = {"rows": len(prompts), "completion_tokens": ntok, "wall_s": round(wall, 2), "tokens_per_s": round(ntok / wall, 2),
        "note": "SafeGenerator, length batches of 8 (as saess generate --batch-size 8), model loaded before timing"}
load = json.loads((out / "load.json").read_text())
(out / "summary.json").write_text(json.dumps({"generate_batch8": base, **load}, indent=2) + "\n")
for lv in load["levels"]:
    print(f"c={lv['concurrency']:>2}  {lv['tokens_per_s']:7.2f} tok/s  x{lv['tokens_per_s'] / base['tokens_per_s']:.2f} "
          f"of generate b8  p50 {lv['latency_p50_s']}  p95 {lv['latency_p95_s']}  ttft p50 {lv['ttft_p50_s']}  "
          f"lost {lv['lost']}")
print(f"generate batch 8: {base['tokens_per_s']} tok/s ({ntok} tokens, {base['wall_s']} s)")
PY
