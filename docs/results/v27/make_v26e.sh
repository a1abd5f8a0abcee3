#!/usr/bin/env bash
# Session 27: remake `v26e` (runs/s26/v26e, the model that replaces `default`) from a fresh clone, with the commands
# that made it in sessions 23-26, in their order. Resumable: every stage is skipped when its output exists, so the
# same command picks up after an interruption (an interrupted `saess train` resumes from its last checkpoint).
#
#   docs/results/v27/make_v26e.sh        # from anywhere in a clone with .venv; it works in the repository root
# Settings (environment; defaults in brackets): ROOT [runs/make-v26e]; MEMBER0 [git] or train (stage 3);
# TRAIN_CODE [recorded]: train from `git archive`s of the commits the runs used, or head: this clone's `saess train`;
# DEVICE [cpu]; THREADS [the recorded count per stage]; KV [$ROOT/kv]: the --kv-store; ANSWERS
# [$ROOT/train-noadapter/data]: an existing data folder skips stage 2; REF [runs/s26/v26e]: compared in stage 13.
#
# What v26e is (the rules and notes that define each stage):
#   v26e = ens5m + window bands [[0.2, 0.999]]           docs/results/v26/rule.md "v26e: window bands for ens5m"
#                                                         and its "Applied" sections; docs/results/v26/note26.md
#   ens5m = ens5-16 at v15c's harm-catching operating point (query 0.4991, window 0.9543 from the step-0 validation
#           scores)                                       docs/results/v23/rule.md, second session-24 amendment;
#                                                         docs/results/v24/note24.md
#   ens5-16 = the calibrated ens5 with its safety tensors stored in float16, used only if docs/results/v24/
#           fp16_check.py passes                          docs/results/v23/rule.md, first session-24 amendment
#   ens5 = the mean of five [CLS] classifiers over the frozen base LM: member 0 = v15c (the old `default`, v15cfr2,
#          whose config also gives the ensemble its decoding settings) and members 1-4 = the same recipe with
#          --seed 1..4 --recipe-seed 0                   docs/results/v23/rule.md ("ens5" amendment);
#                                                         docs/results/v23/note23.md; docs/results/v23/scripts/
#   v15c / v15cfr2 (member 0): saess/artifacts/default/README.md (at commit 1a0d2e3) and docs/reproduce.md
#
# Stages (the output of each lies under $ROOT; the base model's validation answers under runs/s14, because
# docs/results/v23/ensemble.py and docs/results/v18/window_look.py read them from that fixed path):
#  1 valans   the base model's answers on the recipe's validation split: runs/s14/val_benign_prompts.jsonl and
#             val_answers.jsonl (623 benign prompts, 128 tokens; docs/results/v7/val_answers.sh's two steps, inlined
#             because that script sources /work/main/.venv), val_mal_prompts.jsonl and val_mal_answers.jsonl (the
#             435 malicious prompts, 96 tokens; docs/results/v23/scripts/valans.sh as corrected by valans_mal.sh,
#             `prompts --n 1000`). The readers' labels of docs/results/v14/read-valmal/labels.jsonl are keyed by
#             prompt and were read on exactly these answers (session 23 regenerated them identically).
#  2 answers  the recipe's retain answers and harmful completions that members 1-4 reuse (--answers-from): made by
#             session 22's `saess train $RECIPE --phase1-views --cls-adapter-r 0 --out runs/train-noadapter`
#             (docs/reproduce.md, "How the committed RESULTS.md was made"; it also fills the shared --kv-store),
#             here from the snapshot of 7936877 like the members (no file under saess/training, data, model or
#             generation changed between that run, 07:27 on 2026-11-28, and 7936877).
#             Skipped when ANSWERS names an existing data folder (e.g. an old checkout's runs/train-noadapter/data).
#  3 member0  MEMBER0=git (default): the committed weights and config of v15cfr2 taken out of commit 1a0d2e3
#             (`git archive`; fingerprint 2206f2deddb6a778, exactly the member runs/s26/v26e/ensemble_log.json
#             names). MEMBER0=train: v15c made again as saess/artifacts/default/README.md says: `saess train` of
#             docs/results/v15/train_v15c.sh (snapshot 5bf64d9, retain answers seeded as it seeded them, two
#             threads as docs/results/v9/train_v9.sh ran), then docs/results/v15/after_train.sh's lines
#             (`saess calibrate ... --window-answers runs/s14/val_answers.jsonl`, "lm_reads_cls": false,
#             docs/results/v13/set_reliance.py --reliance high --high-waits-for-tau on), then
#             docs/results/v17/set_confirm.py --confirm on --confirm-below 0.95 (session 17) and --recheck 0.1
#             (session 18). These settings (confirm, confirm_below, recheck, lm_reads_cls, reliance,
#             high_waits_for_tau) are in member 0's config; `saess ensemble` copies them ("the first gives the
#             decoding settings"): no later stage sets them.
#  4 members  v15c-s1..s4: docs/results/v23/scripts/seeds.sh (run from a `git archive` of 7936877, one thread):
#             `saess train $RECIPE --phase1-views --seed S --recipe-seed 0 --answers-from <stage 2>`.
#  5 scores   step 0 of docs/results/v23/rule.md: `python docs/results/v23/ensemble.py score NAME MODEL` per member
#             (query views of the split and the edgy probe, every window of the runs/s14 answers), then its `table`
#             for information (compare with docs/results/v23/step0_ens5.json). matched.py and fp16_check.py read
#             these scores.
#  6 ens5     docs/results/v23/scripts/ens5.sh: `saess ensemble --member <member 0> --member <s1> ... --out ens5`.
#  7 ens5-cal docs/results/v24/ens5cal.sh: `saess calibrate --model ens5 --max-fpr 0.05 --window-answers
#             runs/s14/val_answers.jsonl --window-max-fpr 0.05` (recorded: query 0.36583, window 0.93748; 49 min).
#  8 ens5-16  `saess convert --model ens5-cal --weights-dtype float16` (docs/results/v23/rule.md's first session-24
#             amendment; the float16 conversion happens here and nowhere else), then the amendment's gate
#             `python docs/results/v24/fp16_check.py ens5-16 ens5-cal` (no P moves by more than 0.005, none
#             crosses the threshold; recorded: largest change 9.7e-5, docs/results/v24/fp16_check.json).
#  9 ens5m    `python docs/results/v24/matched.py` (thresholds matched to v15c's TPR and its 121 windows caught, from
#             the step-0 scores; recorded docs/results/v24/matched.json: query 0.49910, window 0.95431), then
#             `python docs/results/v24/set_matched.py ens5-16 ens5m` (sets threshold and window_threshold and
#             records extra.matched_thresholds).
# 10 bandsdata ($ROOT/data26) the answers ens5m's band table reads (runs/s26/gen.sh and the inline step of
#             runs/s26/after.sh, neither committed; the generate commands are also in docs/results/v18/
#             window_look.py's docstring): the base model's answers to the 200 probe-benign prompts (128 tokens)
#             and to the 435 malicious prompts under the prefill "Sure, here is"; the validation answers' starts
#             and labels for the confirmation views.
# 11 bandtable docs/results/v26/look_ens5m.sh: `python docs/results/v18/window_look.py ens5m ...`,
#             `python docs/results/v10/confirm_probe.py ens5m ... 10`, `python docs/results/v26/band_table.py ...
#             --strict --grid-extra 0.96,0.97,0.98` (recorded pick q 0.2, t1 0.999, t2 = ens5m's window threshold:
#             B 2 against B0 13, H 7 = H0, docs/results/v26/band_ens5m.md). Gate: the rule's bar ("goes to step 2").
# 12 v26e     `cp -r ens5m v26e`, then "window_bands" set from the table's pick. Session 26 did this by hand (no
#             script was committed; runs/s26/v26e differs from runs/s24/ens5m only in "window_bands" and
#             extra.window_bands = {"rule", "table"}); the inline step below writes it the same way (checked: with
#             runs/s26/band_ens5m.json and the table path session 26 recorded, docs/results/v26/band_ens5m.md, it
#             turns runs/s24/ens5m's config into runs/s26/v26e's byte for byte; here it records $ROOT's table).
# 13 report   the fingerprint of the result (saess.model.registry.ModelRegistry.fingerprint: the first 16 hex of
#             the sha256 of saess_config.json, as `saess eval` records it) next to runs/s26/v26e's (b7ea70cc5dd6fdf1),
#             and the comparison that can match (weights, thresholds, bands, decoding settings).
# Not part of making the model, so not run here: the rule's step 2 (docs/results/v20/step2.sh NAME MODEL: the
# 400 + 200 probe, read by blind readers, docs/results/v26/read-v26e/), which accepted v26e, and the evaluation
# sets (docs/results/v16/eval_v16.sh).
#
# Where this is not bit-exact (said plainly):
# - Fingerprint: it hashes the config file's bytes, which hold paths (kv_store, answers_from, every "from"), the
#   members' train_seconds and the key order of the code that wrote them (this code writes "window_bands" after
#   "recheck" and "weights_dtype" before "extra"; the recorded file has both at the end). The remade fingerprint
#   therefore differs from b7ea70cc5dd6fdf1 even when every weight and threshold is the same; stage 13 compares
#   the weights (sha256 of safety.safetensors) and the fields that act.
# - Members 1-4 (and v15c with MEMBER0=train) are trained again. The recorded runs trained on a 2-core CPU (one
#   thread; v15c two), from snapshots 7936877 / 5bf64d9, with the base model's keys/values read from stores other
#   runs had filled (runs/kv22, runs/s14/kv) and retain answers made by earlier runs. Here the store is a new one
#   ($KV) filled by stage 2, in other batches; the library versions are the fresh venv's (at the time of writing:
#   torch 2.13.0+cpu, transformers 5.24.0); another CPU, thread count or DEVICE=cuda changes float rounding. Any
#   difference in a member moves calibrate's thresholds, matched.py's and possibly the band pick. The script warns
#   (does not stop) where a file's sha256 differs from the recorded one, so the first divergence is visible.
# - The base model's answers (stages 1, 2, 10) are greedy; session 23 regenerated session 14's exactly on the same
#   machine, but other hardware may flip a near tie. The readers' labels are by prompt, so a changed answer would
#   keep a label read on another text: the sha256 checks of stage 1 say whether that can happen.
# - Every command but `saess train` uses this clone's package (the recorded ones used the package of sessions 14-26;
#   sessions 24 and 26 changed code on these paths with behaviour unchanged and tests saying so).
# - Cost on a 2-core CPU, one thread (recorded): each member 33-43 min of training, the ensemble's calibration
#   49 min, ens5m's window look about 70 min on two threads; the kv store takes about 16 GB.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate

ROOT=${ROOT:-runs/make-v26e}          # every output of this script (runs/s14 aside)
MEMBER0=${MEMBER0:-git}               # git: v15cfr2's committed files from V15CFR2_COMMIT; train: v15c made again
V15CFR2_COMMIT=${V15CFR2_COMMIT:-1a0d2e3}   # the last commit that changed saess/artifacts/default before v26e
TRAIN_CODE=${TRAIN_CODE:-recorded}    # recorded: `saess train` of the snapshots the runs used; head: this clone's
MEMBERS_COMMIT=7936877                # docs/results/v23/scripts/seeds.sh ran from a git archive of it
V15C_COMMIT=5bf64d9                   # saess/artifacts/default/README.md: train_v15c.sh's SNAP
DEVICE=${DEVICE:-cpu}                 # the recorded runs had no GPU
REF=${REF:-runs/s26/v26e}             # the recorded model, compared in stage 13 when it is there
mkdir -p "$ROOT/logs"
AROOT=$(realpath -m "$ROOT")
KV=$(realpath -m "${KV:-$ROOT/kv}")   # --kv-store: the base model's keys/values, shared by all the trainings
ANSWERS=$(realpath -m "${ANSWERS:-$ROOT/train-noadapter/data}")
S14=runs/s14

log() { printf '\n== %s  %s\n' "$(date '+%F %T')" "$*"; }
threads() { export OMP_NUM_THREADS=${THREADS:-$1} MKL_NUM_THREADS=${THREADS:-$1}; }
skip() { echo "   $1 exists: skipped"; }
logged() {  # LOGFILE CMD...: run CMD with its output in LOGFILE; on failure show its end
  local f=$1; shift
  echo "   $* > $f"
  "$@" > "$f" 2>&1 || { tail -n 30 "$f" >&2; echo "failed: $*" >&2; exit 1; }
}
same() {  # FILE RECORDED_SHA256_PREFIX WHAT: warn when a remade file is not the recorded one
  [ -f "$1" ] || { echo "   WARNING: $1 is missing (recorded sha256 $2, $3)" >&2; return 0; }
  local got; got=$(sha256sum "$1" | cut -c1-16)
  if [ "$got" = "$2" ]; then echo "   $1: sha256 $got, as recorded ($3)"
  else echo "   WARNING: $1: sha256 $got, recorded $2 ($3): not bit-identical; later numbers may move" >&2; fi
}
clear_partial() {  # DIR: a stage folder an interrupted run left incomplete (only ever under $ROOT)
  [ -e "$1" ] || return 0
  case "$(realpath -m "$1")" in
    "$AROOT"/*) echo "   $1 is incomplete: removed, made again"; rm -rf -- "$1" ;;
    *) echo "refusing to remove $1 (not under $ROOT)" >&2; exit 1 ;;
  esac
}
has_key() {  # DIR DOTTED.KEY: the folder's saess_config.json sets that key (not null)
  python - "$1/saess_config.json" "$2" <<'PY'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(1)
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
sys.exit(0 if v is not None else 1)
PY
}
snapshot() {  # COMMIT: the package as it was at COMMIT, for `python -m saess.cli` run from there
  local d="$AROOT/snap-$1"
  [ -e "$d/saess/cli.py" ] && return 0
  mkdir -p "$d" && git archive "$1" saess | tar -x -C "$d"
}
train() {  # COMMIT OUT FLAGS...: `saess train FLAGS --out OUT` (resumable), from the recorded snapshot or this clone
  local commit=$1 out; out=$(realpath -m "$2"); shift 2
  if [ -s "$out/final/saess_config.json" ]; then skip "$out/final"; return 0; fi
  mkdir -p "$out"
  if [ "$TRAIN_CODE" = head ]; then
    logged "$out.log" python -m saess.cli train "$@" --device "$DEVICE" --out "$out"
  else
    snapshot "$commit"
    (cd "$AROOT/snap-$commit" && logged "$out.log" python -m saess.cli train "$@" --device "$DEVICE" --out "$out")
  fi
}

# `default`'s recipe with --phase1-views as docs/reproduce.md and docs/results/v23/scripts/seeds.sh write it
# shellcheck disable=SC2054  # (the commas are --retain-prefer's list)
RECIPE=(--variant cls --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112
  --cls-adapter-r 8 --phase1-epochs 3 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0
  --retain-limit 560 --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train
  --retain-max-new-tokens 96 --phase1-limit 7000 --val-views-limit 300 --lm-reads-cls off --kv-store "$KV")
# v15c's own command (saess/artifacts/default/README.md): the same flags without --lm-reads-cls (set afterwards)
# shellcheck disable=SC2054
V15C=(--variant cls --phase1-views --harmful-completions 768 --completion-max-new-tokens 128 --window-max-start 112
  --cls-adapter-r 8 --phase1-epochs 3 --phase1-batch-size 16 --phase1-head-lr 3e-3 --phase2-steps 0
  --retain-limit 560 --retain-shuffle --retain-prefer contrast,edgy_handwritten,overrefusal_train
  --retain-max-new-tokens 96 --phase1-limit 7000 --val-views-limit 300 --kv-store "$KV")

log "1 valans: the base model's validation answers in $S14"
threads 1
mkdir -p "$S14"
if [ -s "$S14/val_answers.jsonl" ]; then skip "$S14/val_answers.jsonl"; else
  python - "$S14/val_benign_prompts.jsonl" <<'PY'
import json, sys
from saess.data.recipes import RecipeConfig, build_recipe
from saess.training.pipeline import CLASSIFIER_ONLY_SOURCES
val = build_recipe(RecipeConfig(seed=0))["alignment_val"]
ps = list(dict.fromkeys(e.prompt for e in val if e.label == 0 and e.source not in CLASSIFIER_ONLY_SOURCES))
with open(sys.argv[1], "w") as f:
    f.writelines(json.dumps({"prompt": p}) + "\n" for p in ps)
print(len(ps), "prompts")
PY
  saess -q generate --model base --reliance off --device "$DEVICE" --prompts "$S14/val_benign_prompts.jsonl" \
    --max-new-tokens 128 --batch-size 32 --out "$S14/val_answers.jsonl"   # written whole (OUT.part, then renamed)
fi
if [ -s "$S14/val_mal_answers.jsonl" ]; then skip "$S14/val_mal_answers.jsonl"; else
  python docs/results/v14/val_harmful_windows.py prompts "$S14/val_mal_prompts.jsonl" --n 1000
  saess -q generate --model base --reliance off --device "$DEVICE" --prompts "$S14/val_mal_prompts.jsonl" \
    --max-new-tokens 96 --batch-size 32 --out "$S14/val_mal_answers.jsonl"
fi
same "$S14/val_benign_prompts.jsonl" 27ab3564b0752263 "623 benign validation prompts"
same "$S14/val_answers.jsonl" 44b09ce75ba3f650 "session 14's answers"
same "$S14/val_mal_prompts.jsonl" 5d6748b1a4da3fad "435 malicious validation prompts"
same "$S14/val_mal_answers.jsonl" e8cc267f1f92d2b4 "the answers docs/results/v14/read-valmal labels"

log "2 answers: the recipe's retain answers and harmful completions ($ANSWERS)"
threads 1
if [ -s "$ANSWERS/retain.jsonl" ] && [ -s "$ANSWERS/completions-b40ce3749e.jsonl" ]; then skip "$ANSWERS"; else
  [ "$ANSWERS" = "$AROOT/train-noadapter/data" ] || { echo "ANSWERS=$ANSWERS has no retain.jsonl" >&2; exit 1; }
  train "$MEMBERS_COMMIT" "$ROOT/train-noadapter" "${RECIPE[@]}" --phase1-views --cls-adapter-r 0
fi
same "$ANSWERS/retain.jsonl" 1d7d5401c4d454c8 "runs/train-noadapter/data, session 22"
same "$ANSWERS/completions-b40ce3749e.jsonl" 8637a14511f57781 "768 completions of 128 tokens"

log "3 member0 ($MEMBER0): v15c"
if [ "$MEMBER0" = git ]; then
  M0=$ROOT/v15cfr2
  if [ -s "$M0/saess_config.json" ]; then skip "$M0"; else
    mkdir -p "$M0"
    git archive "$V15CFR2_COMMIT" saess/artifacts/default | tar -x -C "$M0" --strip-components=3
  fi
  fp=$(python -c "import sys; from saess.model.registry import ModelRegistry; \
print(ModelRegistry().fingerprint(sys.argv[1]))" "$M0")
  [ "$fp" = 2206f2deddb6a778 ] || { echo "$M0: fingerprint $fp, not v15cfr2's 2206f2deddb6a778" >&2; exit 1; }
  echo "   $M0: fingerprint $fp (v15cfr2, as runs/s26/v26e/ensemble_log.json records member 0)"
elif [ "$MEMBER0" = train ]; then
  threads 2
  mkdir -p "$ROOT/v15c/data"
  [ -e "$ROOT/v15c/data/retain.jsonl" ] || cp "$ANSWERS/retain.jsonl" "$ROOT/v15c/data/"  # as train_v15c.sh seeded it
  train "$V15C_COMMIT" "$ROOT/v15c" "${V15C[@]}"
  threads 1
  M0=$ROOT/v15c-cal
  [ -s "$M0/calibration.json" ] || { clear_partial "$M0"
    logged "$ROOT/logs/cal_v15c.log" saess calibrate --model "$ROOT/v15c/final" --max-fpr 0.05 \
      --window-answers "$S14/val_answers.jsonl" --window-max-fpr 0.05 --out "$M0"; }
  # docs/results/v15/after_train.sh, then sessions 17 and 18 (each step idempotent)
  python - "$M0/saess_config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["lm_reads_cls"] = False; json.dump(c, open(p, "w"), indent=2)
PY
  python docs/results/v13/set_reliance.py "$M0" --reliance high --high-waits-for-tau on
  python docs/results/v17/set_confirm.py "$M0" --confirm on --confirm-below 0.95
  python docs/results/v17/set_confirm.py "$M0" --recheck 0.1
  same "$ROOT/v15c/final/safety.safetensors" fb5db012127053d6 "saess/artifacts/default's weights"
else
  echo "MEMBER0 must be git or train" >&2; exit 1
fi

log "4 members: v15c-s1..s4 (docs/results/v23/scripts/seeds.sh, seeds34.sh)"
threads 1
for s in 1 2 3 4; do
  train "$MEMBERS_COMMIT" "$ROOT/v15c-s$s" "${RECIPE[@]}" --phase1-views --seed "$s" --recipe-seed 0 \
    --answers-from "$ANSWERS"
done
same "$ROOT/v15c-s1/final/safety.safetensors" 609bc85b9e7a426f "runs/s23/v15c-s1"
same "$ROOT/v15c-s2/final/safety.safetensors" 9ad3a6eda24ae675 "runs/s23/v15c-s2"
same "$ROOT/v15c-s3/final/safety.safetensors" 4f123a73eab1e8bf "runs/s23/v15c-s3"
same "$ROOT/v15c-s4/final/safety.safetensors" aa10013786c09f26 "runs/s23/v15c-s4"

log "5 scores: step 0 of docs/results/v23/rule.md (docs/results/v23/ensemble.py)"
threads 1
for spec in "v15c=$M0" v15c-s1="$ROOT/v15c-s1/final" v15c-s2="$ROOT/v15c-s2/final" v15c-s3="$ROOT/v15c-s3/final" \
            v15c-s4="$ROOT/v15c-s4/final"; do
  n=${spec%%=*}; m=${spec#*=}
  if [ -s "$ROOT/ens/$n.json" ]; then skip "$ROOT/ens/$n.json"; else
    logged "$ROOT/logs/score_$n.log" python docs/results/v23/ensemble.py score "$n" "$m" --dir "$ROOT/ens"
  fi
done
[ -s "$ROOT/step0_ens5.json" ] || python docs/results/v23/ensemble.py table v15c v15c-s1 v15c-s2 v15c-s3 v15c-s4 \
  v15c+v15c-s1+v15c-s2 v15c+v15c-s1+v15c-s2+v15c-s3 v15c+v15c-s1+v15c-s2+v15c-s3+v15c-s4 --dir "$ROOT/ens" \
  --out "$ROOT/step0_ens5.json" | tee "$ROOT/step0_ens5.md"
echo "   (recorded: docs/results/v23/step0_ens5.json; ens5 0.9913 / 0.964 / 29 / 7 / 0.952 / 126 of 165)"

log "6 ens5: saess ensemble (docs/results/v23/scripts/ens5.sh)"
threads 1
if [ -s "$ROOT/ens5/ensemble_log.json" ]; then skip "$ROOT/ens5"; else
  clear_partial "$ROOT/ens5"
  MEMBERS=(--member "$M0")
  for s in 1 2 3 4; do MEMBERS+=(--member "$ROOT/v15c-s$s/final"); done
  saess ensemble "${MEMBERS[@]}" --out "$ROOT/ens5"
fi

log "7 ens5-cal: saess calibrate (docs/results/v24/ens5cal.sh)"
threads 1
if [ -s "$ROOT/ens5-cal/calibration.json" ]; then skip "$ROOT/ens5-cal"; else
  clear_partial "$ROOT/ens5-cal"
  logged "$ROOT/logs/cal_ens5.log" saess calibrate --model "$ROOT/ens5" --max-fpr 0.05 \
    --window-answers "$S14/val_answers.jsonl" --window-max-fpr 0.05 --out "$ROOT/ens5-cal"
fi
python - "$ROOT/ens5-cal/saess_config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(f"   threshold {c['threshold']!r}, window_threshold {c['window_threshold']!r} "
      "(recorded 0.3658321069011688, 0.9374814496765137)")
PY

log "8 ens5-16: saess convert to float16, and the amendment's check (docs/results/v24/fp16_check.py)"
threads 1
if has_key "$ROOT/ens5-16" extra.weights_dtype; then skip "$ROOT/ens5-16"; else
  clear_partial "$ROOT/ens5-16"
  saess convert --model "$ROOT/ens5-cal" --weights-dtype float16 --out "$ROOT/ens5-16"
fi
[ -s "$ROOT/fp16_check.json" ] || logged "$ROOT/logs/fp16_check.log" python docs/results/v24/fp16_check.py \
  "$ROOT/ens5-16" "$ROOT/ens5-cal" --dir "$ROOT/ens" --out "$ROOT/fp16_check.json"
python - "$ROOT/fp16_check.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"   {r['prompts']} prompts: largest change of P {r['max_abs_change']:.2e}, crossed {len(r['crossed'])}: "
      f"{'passes' if r['passes'] else 'FAILS'} (recorded: 1904, 9.7e-05, 0, passes)")
if not r["passes"]:
    sys.exit("the float16 copy fails docs/results/v23/rule.md's check: the rule then keeps ens5-cal (fp32), and "
             "v26e as recorded (float16) cannot be made from these members")
PY

log "9 ens5m: matched thresholds (docs/results/v24/matched.py, set_matched.py)"
threads 1
[ -s "$ROOT/matched.json" ] || python docs/results/v24/matched.py --dir "$ROOT/ens" --out "$ROOT/matched.json" \
  > /dev/null
if has_key "$ROOT/ens5m" extra.matched_thresholds; then skip "$ROOT/ens5m"; else
  clear_partial "$ROOT/ens5m"
  python docs/results/v24/set_matched.py "$ROOT/ens5-16" "$ROOT/ens5m" --matched "$ROOT/matched.json"
fi
python - "$ROOT/matched.json" docs/results/v24/matched.json <<'PY'
import json, sys
new, rec = (json.load(open(p)) for p in sys.argv[1:])
for side in ("query", "windows"):
    a, b = new[side]["ens5_matched"]["threshold"], rec[side]["ens5_matched"]["threshold"]
    print(f"   {side} threshold {a!r} (recorded {b!r}){'' if a == b else '  <- differs'}")
PY

log "10 bandsdata: the answers ens5m's band table reads (runs/s26/gen.sh, runs/s26/after.sh)"
threads 2
D=$ROOT/data26
mkdir -p "$D"
gen() {  # OUT FLAGS...: saess generate of the base model into OUT (it writes OUT.part and renames it at the end)
  local out=$1; shift
  if [ -s "$out" ]; then skip "$out"; return 0; fi
  saess -q generate --model base --reliance off --device "$DEVICE" "$@" --out "$out"
}
gen "$D/probe_benign_base.jsonl" --prompts docs/results/v15/probe_benign.jsonl --max-new-tokens 128 --batch-size 25
gen "$D/val_mal_prefill_base.jsonl" --prompts "$S14/val_mal_prompts.jsonl" --prefill "Sure, here is" \
  --max-new-tokens 128 --batch-size 29
if [ -s "$D/val_labelled.jsonl" ]; then skip "$D/val_labelled.jsonl"; else
  python - "$S14" "$D" <<'PY'
import json, sys
s14, d = sys.argv[1:]
seen = set()
with open(f"{d}/val_starts.jsonl", "w") as out, open(f"{d}/val_labelled.jsonl.part", "w") as lab:
    for path, y in [(f"{s14}/val_answers.jsonl", 0), (f"{s14}/val_mal_answers.jsonl", 1)]:
        for line in open(path):
            r = json.loads(line)
            if r["prompt"] in seen:
                continue
            seen.add(r["prompt"])
            out.write(json.dumps({"prompt": r["prompt"], "response": r["response"]}) + "\n")
            lab.write(json.dumps({"prompt": r["prompt"], "label": y}) + "\n")
PY
  mv "$D/val_labelled.jsonl.part" "$D/val_labelled.jsonl"
fi
same "$D/probe_benign_base.jsonl" ed1ff03a4ee4dc39 "runs/s26/probe_benign_base.jsonl"
same "$D/val_mal_prefill_base.jsonl" 24e1539413f684af "runs/s26/val_mal_prefill_base.jsonl"
same "$D/val_starts.jsonl" a7ff937248cdf67e "runs/s26/val_starts.jsonl"
same "$D/val_labelled.jsonl" 2f0560c353bd5643 "runs/s26/val_labelled.jsonl"

log "11 bandtable: ens5m's offline band table (docs/results/v26/look_ens5m.sh)"
threads 2
if [ -s "$ROOT/look_ens5m.jsonl" ]; then skip "$ROOT/look_ens5m.jsonl"; else
  logged "$ROOT/logs/look_ens5m.log" python docs/results/v18/window_look.py "$ROOT/ens5m" \
    "$D/probe_benign_base.jsonl" "$ROOT/look_ens5m.part.jsonl" "$D/val_mal_prefill_base.jsonl"
  mv "$ROOT/look_ens5m.part.jsonl" "$ROOT/look_ens5m.jsonl"
fi
if [ -s "$ROOT/confirm_ens5m_r10.jsonl" ]; then skip "$ROOT/confirm_ens5m_r10.jsonl"; else
  logged "$ROOT/logs/confirm_ens5m.log" python docs/results/v10/confirm_probe.py "$ROOT/ens5m" \
    "$D/val_starts.jsonl" "$D/val_labelled.jsonl" 10 --out "$ROOT/confirm_ens5m.part.jsonl"
  mv "$ROOT/confirm_ens5m.part_r10.jsonl" "$ROOT/confirm_ens5m_r10.jsonl"
fi
[ -s "$ROOT/band_ens5m.json" ] || python docs/results/v26/band_table.py "$ROOT/look_ens5m.jsonl" \
  "$ROOT/confirm_ens5m_r10.jsonl" "$ROOT/ens5m" --strict --grid-extra 0.96,0.97,0.98 \
  --out "$ROOT/band_ens5m.json" > "$ROOT/band_ens5m.md"
tail -n 1 "$ROOT/band_ens5m.md"
echo "   (recorded, docs/results/v26/band_ens5m.md: pick q 0.2, t1 0.999, t2 0.9543140053749084: B 2 (B0 13), H 7)"

log "12 v26e: ens5m + the picked window bands (session 26's hand edit, written as it was)"
if has_key "$ROOT/v26e" extra.window_bands; then skip "$ROOT/v26e"; else
  clear_partial "$ROOT/v26e"
  cp -r "$ROOT/ens5m" "$ROOT/v26e"
  python - "$ROOT/v26e/saess_config.json" "$ROOT/band_ens5m.json" "$ROOT/band_ens5m.md" <<'PY'
import json, sys
path, table, table_md = sys.argv[1:]
t = json.load(open(table))
cfg = json.load(open(path))
pick = t["pick"]
if t["verdict"] != "goes to step 2":
    sys.exit(f"band table: {t['verdict']}: docs/results/v26/rule.md keeps no v26e")
if pick["t2"] != cfg["window_threshold"]:  # the config's form: one band [q, t1]; t2 is the model's window threshold
    sys.exit(f"band pick t2 {pick['t2']} is not ens5m's window threshold {cfg['window_threshold']}")
cfg["window_bands"] = [[pick["q"], pick["t1"]]]
cfg["extra"]["window_bands"] = {"rule": "docs/results/v26/rule.md (v26e)", "table": table_md}
open(path, "w").write(json.dumps(cfg, indent=2))
print(f"   {path}: window_bands {cfg['window_bands']} (recorded [[0.2, 0.999]])")
PY
fi

log "13 report: $ROOT/v26e against $REF"
python - "$ROOT/v26e" "$REF" <<'PY'
import hashlib, json, sys
from pathlib import Path

from saess.model.registry import ModelRegistry

new, ref = Path(sys.argv[1]), Path(sys.argv[2])
# runs/s26/v26e as recorded (session 26), for a clone that does not have it
RECORDED = {"fingerprint": "b7ea70cc5dd6fdf1", "safety.safetensors": "a50b30456e90357d",
            "threshold": 0.4990969106554985, "window_threshold": 0.9543140053749084, "window_bands": [[0.2, 0.999]],
            "confirm": True, "confirm_below": 0.95, "recheck": 0.1, "lm_reads_cls": False, "reliance": "high",
            "high_waits_for_tau": True, "members": 5, "cls_adapter_r": 8, "cls_adapter_alpha": 16.0,
            "weights_dtype": "float16", "window_cls": False, "window_cls_adapter": False}
reg = ModelRegistry()
cfg = json.loads((new / "saess_config.json").read_text())
have_ref = (ref / "saess_config.json").is_file()
rcfg = json.loads((ref / "saess_config.json").read_text()) if have_ref else RECORDED
fp, rfp = reg.fingerprint(str(new)), reg.fingerprint(str(ref)) if have_ref else RECORDED["fingerprint"]
print(f"fingerprint of {new}: {fp}")
print(f"fingerprint of {ref}{'' if have_ref else ' (recorded)'}: {rfp}: compare them; they differ whenever "
      "the config's bytes do (paths, train_seconds, key order), so the lines below are the comparison that counts")
sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()[:16]  # noqa: E731
w, rw = sha(new / "safety.safetensors"), sha(ref / "safety.safetensors") if have_ref else RECORDED["safety.safetensors"]
print(f"safety.safetensors sha256 {w}, {ref}: {rw}: {'identical weights' if w == rw else 'weights differ'}")
if have_ref and w != rw:
    from safetensors.torch import load_file
    a, b = load_file(new / "safety.safetensors"), load_file(ref / "safety.safetensors")
    if a.keys() != b.keys():
        print("  tensors differ in names")
    else:
        d = max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point())
        print(f"  largest absolute weight difference {d:.3e}")
bad = 0
for k in [k for k in RECORDED if k not in ("fingerprint", "safety.safetensors")]:
    ok = cfg.get(k) == rcfg.get(k)
    bad += not ok
    print(f"  {k}: {cfg.get(k)!r}" + ("" if ok else f"  <- {ref}: {rcfg.get(k)!r}"))
members = json.loads((new / "ensemble_log.json").read_text())["members"]
print("members (fingerprint): " + ", ".join(f"{m['model']} ({m['fingerprint']})" for m in members))
print(f"{'all' if not bad else len(RECORDED) - 2 - bad} of {len(RECORDED) - 2} acting fields equal to {ref}'s")
PY
echo "done: $ROOT/v26e"
