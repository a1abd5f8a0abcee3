#!/usr/bin/env bash
# v20cd-s1 (session 20, the replication path of docs/results/v20/rule.md): v20cd's command with another run seed and
# the same recipe split (--seed 1 --recipe-seed 0). Usage: train_v20cd_s1.sh SNAP OUT   (SNAP with --recipe-seed)
set -euo pipefail
exec "$(dirname "$0")/train_v20cd.sh" "$@" --seed 1 --recipe-seed 0
