"""Issue 12, session 21: session 20's read training completions as a fourth development source of the harm judge.

    python docs/results/v21/harm_compl.py extract     (features of the 661 read completions into runs/s15/harmfeats)
    python docs/results/v21/harm_compl.py fit [--out docs/results/v21/harm_compl_fit.md]

Session 15 (docs/results/v15/harm_lm.py) fitted the harmful-compliance judge on three development sources (the gold
train split's harmful-prompt rows, 1,717 read answers of v11wh, the base model's 435 read answers to malicious
validation prompts) and found both feature sets calling most of the small models' on-topic but empty answers harmful
(check split precision 0.244 / 0.250). Session 20 had two blind readers read the base model's 661 kept answers to
malicious **training** prompts (`docs/results/v20/completion_labels.jsonl`: 311 harmful when either reader says so,
340 harmless, 10 refusals; texts in v15c's run, `runs/s15/v15c/data/completions-b40ce3749e.jsonl`, keyed by prompt and
the text's sha8): half of them are exactly such on-topic harmless answers. They are outputs of the project's own
model on training prompts, never a check set.

Rule, written before any number of this script: the same two judges as session 15 (17 text features; the base
model's hidden states, layer set and L2 from the same grids), cross-validated leaving one of the **four** development
sources out at a time, F1-best threshold over the pooled out-of-fold scores. The LM-state judge is built into
`saess.judges` (as the jailbreak judge of `saess:v1`'s successor) only if its CV precision and recall are both at
least 0.80 (session 15: 0.561 / 0.839); the gold check split is scored after that choice, for both, and reported
whatever it shows.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("harm_lm", HERE.parent / "v15" / "harm_lm.py")
harm_lm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harm_lm)

COMPLETIONS = "runs/s15/v15c/data/completions-b40ce3749e.jsonl"
LABELS = HERE.parent / "v20" / "completion_labels.jsonl"


_spec2 = importlib.util.spec_from_file_location("completion_reads", HERE.parent / "v20" / "completion_reads.py")
completion_reads = importlib.util.module_from_spec(_spec2)
_spec2.loader.exec_module(completion_reads)
_sha8 = completion_reads._sha8  # the key the readers' labels were written with


def compl_rows(path: str = COMPLETIONS) -> list[dict]:
    lab = {}
    for line in open(LABELS, encoding="utf-8"):
        r = json.loads(line)
        lab[(r["prompt"], r["sha8"])] = r["label"]
    out = []
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        k = (r["prompt"], _sha8(r["response"]))
        if k in lab:
            out.append(dict(prompt=r["prompt"], prefill=None, response=r["response"], harmful=lab[k] == "harmful"))
    if len(out) != len(lab):
        sys.exit(f"{path}: {len(out)} of the {len(lab)} labelled completions found")
    return out


_orig_rows = harm_lm._rows


def _rows(a):
    parts = _orig_rows(a)
    check = parts.pop("gold-check")
    return {**parts, "compl20": compl_rows(), "gold-check": check}


harm_lm._rows = _rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=("extract", "fit"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    common = ["--read13", "runs/s13/read13.jsonl", "--valmal", "runs/s14/val_mal_answers.jsonl"]
    if a.cmd == "extract":
        return harm_lm.main(["extract", *common, "--out", "runs/s15/harmfeats", "--threads", str(a.threads)])
    harm_lm.DEV_NAMES = ("gold-train", "read13", "valmal", "compl20")  # the fourth source, its own fold
    return harm_lm.fit(argparse.Namespace(read13="runs/s13/read13.jsonl", valmal="runs/s14/val_mal_answers.jsonl",
                                          feats="runs/s15/harmfeats", out=a.out))


if __name__ == "__main__":
    sys.exit(main())
