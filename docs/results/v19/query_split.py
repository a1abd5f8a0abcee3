"""Issue 11, session 19: step 1 of docs/results/v19/rule.md, the query side by part of the validation split.

Usage: python docs/results/v19/query_split.py NAME=MODEL [NAME=MODEL ...] --out F.json

Scores the unique prompts of the recipe's validation split (`alignment_val`, seed 0, as `saess calibrate`) with
each model's `[CLS]` head (the query view, `SafetyModel.classify`) and the 280 benign prompts of the edgy probe
written by other writers (docs/results/v16/probe_edgy.jsonl). Groups:
- `old`: every validation prompt that is not from the contrast parts added in session 19 (part_k..part_o), i.e.
  the split that `default` was calibrated on (870 / 755; 870 / 754 with parts k-n in the package, which repeat one
  benign prompt of it word for word); the threshold of each model is chosen here at FPR <= 0.05
  (`choose_threshold`, as `saess calibrate`), and every rate below is at that threshold;
- `contrast_old`: the validation prompts of contrast parts a-j (benign vs their harmful counterparts);
- `new`: the validation prompts of parts k-o (written in session 19 by other writers; held out by prompt);
- `edgy_probe`: how many of the 280 probe prompts score at or above the threshold (all benign).
No evaluation set is read. The split is the current package's: parts k-o count only while they are in
`saess/data/contrast/` (they were at commit 77f5bbd; they now lie in docs/results/v19/contrast/, and on the
current package `old` is the whole split).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from saess.data.recipes import RecipeConfig, build_recipe
from saess.data.sources import normalize_prompt
from saess.evaluation.calibration import choose_threshold
from saess.model.registry import ModelRegistry
from saess.stats import auroc

NEW_PARTS = {"part_k.jsonl", "part_l.jsonl", "part_m.jsonl", "part_n.jsonl", "part_o.jsonl"}
CONTRAST = Path(__file__).resolve().parents[3] / "saess" / "data" / "contrast"
MOVED = Path(__file__).resolve().parent / "contrast"  # where parts k-o went when no candidate passed
PROBE = Path(__file__).resolve().parents[1] / "v16" / "probe_edgy.jsonl"


def groups(recipe) -> dict[str, dict[str, int]]:
    new = set()
    for f in NEW_PARTS:
        path = CONTRAST / f if (CONTRAST / f).exists() else MOVED / f
        for line in (path.read_text().splitlines() if path.exists() else []):
            row = json.loads(line)
            new |= {normalize_prompt(x) for x in (row["benign"], row["harmful"]) if x}
    out: dict[str, dict[str, int]] = {"old": {}, "contrast_old": {}, "new": {}}
    for e in recipe["alignment_val"]:
        if e.source == "contrast" and normalize_prompt(e.base_prompt or e.prompt) in new:
            out["new"].setdefault(e.prompt, e.label)
            continue
        out["old"].setdefault(e.prompt, e.label)
        if e.source == "contrast":
            out["contrast_old"].setdefault(e.prompt, e.label)
    return out


def rates(by: dict[str, int], score: dict[str, float], t: float) -> dict:
    pos = [score[p] for p, lab in by.items() if lab == 1]
    neg = [score[p] for p, lab in by.items() if lab == 0]
    return {"n_malicious": len(pos), "n_benign": len(neg), "auroc": auroc(pos, neg) if pos and neg else None,
            "tpr": sum(s >= t for s in pos) / len(pos) if pos else None,
            "fpr": sum(s >= t for s in neg) / len(neg) if neg else None,
            "fp": sum(s >= t for s in neg)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="NAME=MODEL")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    g = groups(build_recipe(RecipeConfig(seed=0)))
    probe = [json.loads(x)["prompt"] for x in PROBE.read_text().splitlines() if x.strip()]
    prompts = list(dict.fromkeys([*g["old"], *g["new"], *probe]))
    res = {}
    reg = ModelRegistry()
    for spec in a.models:
        name, _, path = spec.partition("=")
        model = reg.load(path)
        score = dict(zip(prompts, model.classify(prompts, batch_size=16), strict=True))
        old = g["old"]
        t = choose_threshold([score[p] for p, lab in old.items() if lab == 1],
                             [score[p] for p, lab in old.items() if lab == 0], 0.05)
        row = {"model": path, "threshold_old_fpr05": t}
        for k in ("old", "contrast_old", "new"):
            row[k] = rates(g[k], score, t)
        row["edgy_probe"] = {"n": len(probe), "flagged": sum(score[p] >= t for p in probe)}
        res[name] = row
        print(name, json.dumps(row), file=sys.stderr, flush=True)
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
