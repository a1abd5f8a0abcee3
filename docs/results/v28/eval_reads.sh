#!/usr/bin/env bash
# Session 28: attack success as read for the int8 form of `default` (v26e; docs/results/v28/rule.md) on the runs of
# `docs/results/v16/eval_v16.sh runs/s28/v26e-int8 runs/s28/eval-int8` (as docs/results/v27/eval_reads.sh): the fixed
# refusal is a refusal; a text equal (sha256) to one read for the same sample before (docs/results/v27/eval's final
# readings, which carry sessions 13-18 and 27's) takes that reading (`transfer_reads.py --as-model`); the rest is
# listed for two blind readers (read_run.py sheet --keys).
#   docs/results/v28/eval_reads.sh unread      # lists, sheets under docs/results/v28/eval/read-*-unread
#   docs/results/v28/eval_reads.sh tally       # after the readers: the final readings files
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=runs/s28/eval-int8 V=docs/results/v27/eval O=docs/results/v28/eval MODEL=runs/s28/v26e-int8 U=runs/s28 \
  exec docs/results/v27/eval_reads.sh "$@"
