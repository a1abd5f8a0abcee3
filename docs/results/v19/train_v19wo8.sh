#!/usr/bin/env bash
# v19wo8 (session 19, docs/results/v19/rule.md): v19wo with --phase1-limit 8598, v15c's phase-1 sampling rate
# (7000 of 13,739 sequences) applied to the 16,876 of the package with parts k-o, so that the new parts do not
# thin out the other kinds of phase-1 sequence. Usage: train_v19wo8.sh SNAP OUT
exec "$(dirname "$0")/train_v19wo.sh" "$@" --phase1-limit 8598
