#!/usr/bin/env bash
# v15c-s1 (session 21, docs/results/v21/rule.md, seed-mean path): `default`'s command (v15c's, through v19w's script:
# v15c's retain set and completions) with another run seed and the same recipe split. Usage: train_v15c_s1.sh SNAP OUT
set -euo pipefail
exec "$(dirname "$0")/../v19/train_v19w.sh" "$@" --seed 1 --recipe-seed 0
