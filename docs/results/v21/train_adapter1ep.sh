#!/usr/bin/env bash
# adapter1ep (session 21, docs/results/v21/rule.md): v15c's command (the [CLS]-only adapter) at the paper's-phase-1
# ablation's budget, one epoch of phase 1; v15c's retain set and completions (v19w's script). Not a candidate.
# Usage: train_adapter1ep.sh SNAP OUT
set -euo pipefail
exec "$(dirname "$0")/../v19/train_v19w.sh" "$@" --phase1-epochs 1
