#!/usr/bin/env bash
# Session 28: remake the committed `default` (v26e stored in int8; docs/results/v28/rule.md) from a fresh clone:
# docs/results/v27/make_v26e.sh (v26e, float16; every stage and setting of it, same environment variables), then
#  14 int8     `saess convert --model $ROOT/v26e --weights-dtype int8 --out $ROOT/default`
#  15 check    both forms scored on the validation split and the edgy probe (`docs/results/v23/ensemble.py score`,
#              one thread each, about 60 min each on two cores) and compared (`docs/results/v28/int8_check.py`: no
#              query or window P(malicious) moves by more than 0.005, none crosses a boundary the engine uses);
#              the recorded check is saess/artifacts/default/logs/int8_check.json.
# Resumable like make_v26e.sh (a stage whose output exists is skipped).
#   docs/results/v28/make_default.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=${ROOT:-runs/make-v26e}
docs/results/v27/make_v26e.sh
. .venv/bin/activate
printf '\n== %s  14 int8: saess convert --weights-dtype int8\n' "$(date '+%F %T')"
if [ -f "$ROOT/default/safety.safetensors" ]; then echo "   $ROOT/default exists: skipped"; else
  saess convert --model "$ROOT/v26e" --weights-dtype int8 --out "$ROOT/default"
fi
printf '\n== %s  15 check: docs/results/v28/int8_check.py\n' "$(date '+%F %T')"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
[ -s "$ROOT/ens28/fp16.json" ] || python docs/results/v23/ensemble.py score fp16 "$ROOT/v26e" --dir "$ROOT/ens28" \
  > "$ROOT/logs/score28_fp16.log" 2>&1 &
[ -s "$ROOT/ens28/int8.json" ] || python docs/results/v23/ensemble.py score int8 "$ROOT/default" --dir "$ROOT/ens28" \
  > "$ROOT/logs/score28_int8.log" 2>&1 &
wait
python docs/results/v28/int8_check.py --dir "$ROOT/ens28" --model "$ROOT/default" --out "$ROOT/int8_check.json" \
  | python -c 'import json, sys; r = json.load(sys.stdin); print({k: r[k] for k in ("max_abs_query_change", "max_abs_window_change", "passes")})'
sha256sum "$ROOT/default/safety.safetensors" saess/artifacts/default/safety.safetensors
echo "done: $ROOT/default (compare with saess/artifacts/default: the sha256 lines above)"
