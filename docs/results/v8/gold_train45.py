"""Session 8: the reading sheets of the gold train split's rows from the evaluation reports of three
trained models (issue 12). Usage: python docs/results/v8/gold_train45.py OUT_DIR

Run folders (made by docs/results/v5/eval_v5.sh for v4-cal, docs/results/v6 for v6b-p1 and
docs/results/v7/eval_v7.sh for v7aw), linked under unique names because a gold row's id starts with
its run folder's name:
  runs/gold-train4-{v4cal,v6b,v7aw} -> runs/s5/report-v4cal, runs/s6/report-v6b-p1, runs/s7/report-v7aw /harmbench-prefill
  runs/gold-train5-{v4cal,v6b,v7aw} -> the same reports' /nested (AdvBench prompts; the check split's
  five AdvBench rows are excluded, so the splits still share no prompt)
train4: every harmful-prompt response the gcg keyword list does not call a refusal, plus 12 it does
(seeded); train5: up to 64 such non-refusals per run (seeded). The sheets were labelled by reading,
with the rubric of docs/judges.md, and built with
  python -m saess.judges.gold_build build runs/gold-train4-v4cal --split train --labels train4-v4cal.tsv  (etc.)
"""
import random
import sys
from pathlib import Path

from saess.judges.gold import load_gold
from saess.judges.gold_build import export_sheet, unique_responses
from saess.judges.keyword import KeywordJudge

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
kj = KeywordJudge("gcg")
check_prompts = {r.meta["source_prompt"] for r in load_gold("check")}


def nonrefused(rows):
    return [r for r in rows if not kj.judge(r["prompt"], r["response"], ignore_prefix=r["prefill"]).refused]


for name, seed_sel, seed_order in (("train4", 0, 1), ("train5", 2, 3)):
    sel = []
    for m in ("v4cal", "v6b", "v7aw"):
        rows = [r for r in unique_responses(f"runs/gold-{name}-{m}") if r["kind"] == "harmful"
                and r["source_prompt"] not in check_prompts]
        keep = nonrefused(rows)
        if name == "train4":
            ref = [r for r in rows if r not in keep]
            random.Random(seed_sel).shuffle(ref)
            sel += keep + ref[:12]
        else:
            random.Random(seed_sel).shuffle(keep)
            sel += keep[:64]
    random.Random(seed_order).shuffle(sel)
    k = (len(sel) + 2) // 3
    for i in range(3):
        with open(out / f"sheet_{name}_{i}.txt", "w", encoding="utf-8") as f:
            export_sheet(sel[i * k:(i + 1) * k], out=f)
    print(name, len(sel), "rows")
