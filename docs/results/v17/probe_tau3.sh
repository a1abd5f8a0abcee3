#!/usr/bin/env bash
# Issue 11, session 17: step 2 for v15c-tau3 (docs/results/v17/rule.md): v15c's weights, tau 3 (a run flag: the
# model config does not carry tau yet), window threshold 0.9921 (val_harmful_windows.py tally -1 on its tau-3
# scores), confirmation below 0.95 (confirm_band17.py --choose on confirm_band_v15c-tau3.md).
#   runs/s17/v15cf-tau3 = runs/s17/v15cf with "window_threshold" 0.9921401606330872, then
#   python docs/results/v17/set_confirm.py runs/s17/v15cf-tau3 --confirm on --confirm-below 0.95
# The probe's own command (docs/results/v15/probe.sh), with --tau 3.
EXTRA="--tau 3" THREADS=2 exec "$(dirname "$0")/../v15/probe.sh" v15cf-tau3=runs/s17/v15cf-tau3
