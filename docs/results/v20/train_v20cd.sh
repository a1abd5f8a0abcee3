#!/usr/bin/env bash
# v20cd (issue 11, session 20, docs/results/v20/rule.md): v20c with the windows of the completions read harmless or a
# refusal left out of phase 1 (--completion-harmless drop) instead of trained as benign. Usage: train_v20cd.sh SNAP OUT
set -euo pipefail
exec "$(dirname "$0")/train_v20c.sh" "$@" --completion-harmless drop
