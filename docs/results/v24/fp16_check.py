"""Issue 11, session 24: the check of docs/results/v23/rule.md's session-24 amendment (the stored form of ens5).

    python docs/results/v24/fp16_check.py runs/s23/ens5-16 runs/s23/ens5-cal [--out F.json]

Scores the unique prompts of the recipe's validation split (`alignment_val`, seed 0; the `old` group of
docs/results/v19/query_split.py, the split `saess calibrate` used) and the 280 edgy-probe prompts with the float16
copy (query view, `SafetyModel.classify`) and compares each P(malicious) with ens5-cal's, taken as the mean of its
five members' step-0 scores (runs/s23/ens/*.json, fp32; the ensemble's own forward equals that mean within 1e-5,
tests/test_ensemble.py). Passes when no prompt moves by more than 0.005 and none crosses ens5-cal's query threshold.
No evaluation set is read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "v19"))
MEMBERS = ["v15c", "v15c-s1", "v15c-s2", "v15c-s3", "v15c-s4"]


def main() -> int:
    from query_split import PROBE, groups

    from saess.data.recipes import RecipeConfig, build_recipe
    from saess.model.registry import ModelRegistry

    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("reference")
    ap.add_argument("--dir", default=str(ROOT / "runs/s23/ens"))
    ap.add_argument("--out")
    a = ap.parse_args()
    g = groups(build_recipe(RecipeConfig(seed=0)))
    probe = [json.loads(x)["prompt"] for x in PROBE.read_text().splitlines() if x.strip()]
    prompts = list(dict.fromkeys([*g["old"], *probe]))
    members = [json.loads((Path(a.dir) / f"{n}.json").read_text())["query"] for n in MEMBERS]
    ref = [sum(m[p] for m in members) / len(members) for p in prompts]
    t = json.loads((Path(a.reference) / "saess_config.json").read_text())["threshold"]
    got = ModelRegistry().load(a.model).classify(prompts, batch_size=16)
    diff = [abs(x - y) for x, y in zip(got, ref, strict=True)]
    crossed = [p for p, x, y in zip(prompts, got, ref, strict=True) if (x >= t) != (y >= t)]
    res = {"model": a.model, "reference": a.reference, "threshold": t, "prompts": len(prompts),
           "max_abs_change": max(diff), "mean_abs_change": sum(diff) / len(diff), "crossed": crossed,
           "passes": max(diff) <= 0.005 and not crossed}
    print(json.dumps({k: v for k, v in res.items()}, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
