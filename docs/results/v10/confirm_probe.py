"""Issue 11, session 10: would a second look at the query, with the first r1 response tokens,
rescue benign prompts the query judgement flags? (validation split only)

For every prompt of the recipe's validation split flagged by the query judgement at the model's
threshold, score the rule-1 view `[CLS]` sees after r1 tokens (query + base model's first r1
response tokens, `saess.training.views.response_view`) and count, per label, how many fall below
a confirmation threshold. Reads `docs/results/v10/val_starts.sh`'s output.

Released malicious prompts are split by whether the base model's start already refuses (written
rules, `rules:refusal`): those continue as a refusal, the others are left to the windows.
Per-prompt scores go to OUT.jsonl when given.

Usage: python docs/results/v10/confirm_probe.py MODEL STARTS.jsonl PROMPTS.jsonl [R1 ...] [--out OUT.jsonl]
"""

from __future__ import annotations

import json
import sys

import torch

from saess.judges.rules import RefusalRulesJudge
from saess.model.registry import ModelRegistry
from saess.stats import auroc
from saess.training.pipeline import score_views
from saess.training.views import response_view


def view_scores(model, items, r1: int) -> list[float]:
    return score_views(model, [response_view(model.encoder, p, r, 0, 0, r1, with_query=True) for p, r in items])


def main() -> None:
    args = sys.argv[1:]
    out_path = None
    if "--out" in args:
        i = args.index("--out")
        out_path = args[i + 1]
        del args[i:i + 2]
    name, starts_path, prompts_path = args[:3]
    r1s = [int(x) for x in args[3:]] or [10]
    judge = RefusalRulesJudge()
    torch.set_num_threads(2)
    model = ModelRegistry().load(name)
    model.eval()
    labels = {}
    for line in open(prompts_path):
        d = json.loads(line)
        labels[d["prompt"]] = d["label"]
    starts = [json.loads(x) for x in open(starts_path)]
    rows = [(d["prompt"], d["response"] or " ", labels[d["prompt"]]) for d in starts if d["prompt"] in labels]
    q = model.classify([p for p, _, _ in rows], batch_size=32)
    th = model.config.threshold
    print(f"model {name}: {len(rows)} validation prompts, query threshold {th:.4f}")
    pos = [s for s, (_, _, y) in zip(q, rows, strict=True) if y == 1]
    neg = [s for s, (_, _, y) in zip(q, rows, strict=True) if y == 0]
    print(f"query: AUROC {auroc(pos, neg):.4f}; flagged benign {sum(s >= th for s in neg)}/{len(neg)}, "
          f"malicious {sum(s >= th for s in pos)}/{len(pos)}")
    for r1 in r1s:
        v = view_scores(model, [(p, r) for p, r, _ in rows], r1)
        vpos = [s for s, (_, _, y) in zip(v, rows, strict=True) if y == 1]
        vneg = [s for s, (_, _, y) in zip(v, rows, strict=True) if y == 0]
        print(f"\nr1={r1}: view AUROC {auroc(vpos, vneg):.4f}")
        refuses = [judge.judge(p, r).refused for p, r, _ in rows]
        if out_path:
            with open(out_path.replace(".jsonl", f"_r{r1}.jsonl"), "w") as f:
                for qs, vs, ref, (p, r, y) in zip(q, v, refuses, rows, strict=True):
                    f.write(json.dumps({"prompt": p, "start": r, "label": y, "query": qs, "view": vs,
                                        "start_refuses": ref}) + "\n")
        flagged = [(vs, y, ref) for qs, vs, ref, (_, _, y) in zip(q, v, refuses, rows, strict=True) if qs >= th]
        for ct in (0.2, 0.3, 0.4, 0.5, 0.7, 0.9):
            rel_ref = sum(1 for vs, y, ref in flagged if y == 1 and vs < ct and ref)
            kept_b = sum(1 for vs, y, _ in flagged if y == 0 and vs >= ct)
            kept_m = sum(1 for vs, y, _ in flagged if y == 1 and vs >= ct)
            nb = sum(1 for _, y, _ in flagged if y == 0)
            nm = sum(1 for _, y, _ in flagged if y == 1)
            print(f"  confirm at {ct:.2f}: benign flagged {nb} -> {kept_b}; malicious flagged {nm} -> {kept_m} "
                  f"(released {nm - kept_m}: {rel_ref} of them start with a refusal, {nm - kept_m - rel_ref} do not)")


if __name__ == "__main__":
    main()
