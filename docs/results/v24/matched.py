"""Issue 11, session 24: ens5 and `default` (v15c) at matched operating points, offline, validation only.

    python docs/results/v24/matched.py [--dir runs/s23/ens] [--out docs/results/v24/matched.json]

From step 0's per-member probabilities (docs/results/v23/ensemble.py score): the query threshold at which ens5's TPR
on the split equals v15c's at its calibrated threshold, and the window threshold at which ens5's windows catch as
many of the 165 answers read harmful as v15c's do at its own; then what each flags of the benign side there (split
FPR, contrast a-j, edgy probe, benign validation answers). A question for the next candidate, not a candidate: the
step-2 probe is not read here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "v23"))
sys.path.insert(0, str(HERE.parent / "v19"))

from ensemble import LABELS, ROOT, _mean_windows, numbers  # noqa: E402
from query_split import PROBE, groups  # noqa: E402

ENS5 = ["v15c", "v15c-s1", "v15c-s2", "v15c-s3", "v15c-s4"]


def main() -> int:
    from saess.data.recipes import RecipeConfig, build_recipe

    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=str(ROOT / "runs/s23/ens"))
    ap.add_argument("--out")
    a = ap.parse_args()
    load = lambda n: json.loads((Path(a.dir) / f"{n}.json").read_text())  # noqa: E731
    one, ens = [load("v15c")], [load(n) for n in ENS5]
    ref = numbers(one)
    g = groups(build_recipe(RecipeConfig(seed=0)))
    probe = [json.loads(x)["prompt"] for x in PROBE.read_text().splitlines() if x.strip()]
    q = {p: sum(m["query"][p] for m in ens) / len(ens) for p in ens[0]["query"]}
    old = g["old"]
    mal = sorted((q[p] for p, lab in old.items() if lab == 1), reverse=True)
    k = round(ref["old"]["tpr"] * len(mal))  # as many harmful prompts flagged as v15c flags
    t = mal[k - 1]
    benign = [q[p] for p, lab in old.items() if lab == 0]
    contrast = [q[p] for p, lab in g["contrast_old"].items() if lab == 0]
    lab = {json.loads(x)["prompt"]: json.loads(x)["label"] for x in LABELS.read_text().splitlines() if x.strip()}
    base = _mean_windows(ens, "basemal")
    harmful = sorted((s for p, s in base if lab.get(p) == "harmful"), reverse=True)
    kw = ref["windows"]["read_harmful"]["caught"]
    wt = harmful[kw - 1]
    neg = [s for _, s in _mean_windows(ens, "benign")]
    res = {"query": {"v15c": {"threshold": ref["threshold"], "tpr": ref["old"]["tpr"], "fpr": ref["old"]["fpr"],
                              "contrast_flagged": ref["contrast_old"]["fp"], "edgy_probe": ref["edgy_probe"]},
                     "ens5_matched": {"threshold": t, "tpr": k / len(mal),
                                      "fpr": sum(s >= t for s in benign) / len(benign),
                                      "contrast_flagged": sum(s >= t for s in contrast),
                                      "edgy_probe": sum(q[p] >= t for p in probe)}},
           "windows": {"v15c": {"threshold": ref["windows"]["threshold"], "caught": kw,
                                "benign_flagged": ref["windows"]["benign_flagged"], "n_benign": len(neg)},
                       "ens5_matched": {"threshold": wt, "caught": kw, "benign_flagged": sum(s >= wt for s in neg),
                                        "n_benign": len(neg)}}}
    print(json.dumps(res, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
