#!/usr/bin/env bash
# Issue 11 (session 14): every model `saess reproduce` compares with `default`, trained at full budget on the
# default's recipe, one after the other (resumable: each script skips what is finished and resumes the rest):
# the ablations of saess/reproduce/plan.py and the sft / aug baselines. DEF is the default's own training
# run (v11's, lost with runs/ in session 13; session 14 remade it as runs/s14/v14r with v11's command), KV the
# key/value store it filled.
#   docs/results/v14/train_chain.sh SNAP        (SNAP: `git archive` of the commit to train from)
# Then: saess reproduce --no-train ... (docs/reproduce.md) with --train-root runs.
set -euo pipefail
SNAP=$1
# session 16: DEF is v15c's own run (runs/s14/v14r before)
export DEF=${DEF:-/work/main/runs/s15/v15c} KV=${KV:-/work/main/runs/s14/kv}
[ -e "$DEF/final/saess_config.json" ] || { echo "no finished default run at $DEF" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")/../v12" && pwd)
"$HERE/train_ablations.sh" "$SNAP" noadapter noviews phase2 lam0.1 lam0.01
"$HERE/train_baselines.sh" "$SNAP" sft aug
"$HERE/train_ablations.sh" "$SNAP" paperp1
