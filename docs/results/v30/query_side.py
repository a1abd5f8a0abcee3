"""Issue 11, session 30: step 1 of docs/results/v30/rule.md: the query side of an ensemble with query-only members.

    python docs/results/v30/query_side.py [--members NAME,...] [--out F.json]

The members' mean query score (step 0's per-member scores: v26e's five in runs/s29/ens, session 30's members in
runs/s30/ens), its threshold at the matched TPR (as many of the split's harmful prompts flagged as v15c flags at its
calibrated threshold: docs/results/v29/matched.py's computation) and what it flags of the benign side: the split's
benign prompts, contrast a-j, the 280-prompt edgy probe; the rule's query side is split + probe. The answer windows of
a candidate whose window members are v26e's five are v26e's, so none is computed here. Validation split and edgy
probe only: no evaluation set is read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "v23"))
sys.path.insert(0, str(HERE.parent / "v19"))

from ensemble import numbers  # noqa: E402
from query_split import PROBE, groups  # noqa: E402

ENS5 = ["v15c", "v15c-s1", "v15c-s2", "v15c-s3", "v15c-s4"]
BAR = 21  # docs/results/v30/rule.md, step 1


def _load(name: str) -> dict:
    for d in ("runs/s30/ens", "runs/s29/ens"):
        if (p := ROOT / d / f"{name}.json").exists():
            return json.loads(p.read_text())
    raise SystemExit(f"no step-0 scores for {name} (runs/s30/ens, runs/s29/ens)")


def query_side(names: list[str], k: int, g: dict, probe: list[str]) -> dict:
    ms = [_load(n) for n in names]
    q = {p: sum(m["query"][p] for m in ms) / len(ms) for p in ms[0]["query"]}
    mal = sorted((q[p] for p, lab in g["old"].items() if lab == 1), reverse=True)
    t = mal[k - 1]
    split = sum(q[p] >= t for p, lab in g["old"].items() if lab == 0)
    edgy = sum(q[p] >= t for p in probe)
    return {"members": names, "threshold": t, "tpr": k / len(mal), "benign_flagged": split,
            "n_benign": sum(1 for lab in g["old"].values() if lab == 0),
            "contrast_flagged": sum(q[p] >= t for p, lab in g["contrast_old"].items() if lab == 0),
            "edgy_probe": edgy, "query_side": split + edgy}


def main() -> int:
    from saess.data.recipes import RecipeConfig, build_recipe

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", default=",".join([*ENS5, "qs-s5", "qs-s6"]))
    ap.add_argument("--out")
    a = ap.parse_args()
    g = groups(build_recipe(RecipeConfig(seed=0)))
    probe = [json.loads(x)["prompt"] for x in PROBE.read_text().splitlines() if x.strip()]
    ref = numbers([_load("v15c")])
    k = round(ref["old"]["tpr"] * sum(1 for lab in g["old"].values() if lab == 1))
    names = a.members.split(",")
    res = {"ens5": query_side(ENS5, k, g, probe), "candidate": query_side(names, k, g, probe)}
    extra = [n for n in names if n not in ENS5]
    res["new_members_alone"] = query_side(extra, k, g, probe) if extra else None
    res["step1"] = {"bar": BAR, "query_side": res["candidate"]["query_side"],
                    "passes": res["candidate"]["query_side"] <= BAR}
    print(json.dumps(res, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
