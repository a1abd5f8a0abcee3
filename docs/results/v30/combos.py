"""Issue 11, session 30, information (validation split and edgy probe only): the ensemble's combination rule.

    python docs/results/v30/combos.py        (step-0 scores in runs/s29/ens)

`default` averages its members' P(malicious). For member sets measured in sessions 23-29, the same step-1 numbers
under the mean of P, the mean of logits and the median: the query side at the matched TPR (docs/results/v29/matched.py's
operating point) and the benign validation answers the windows flag at 121 of 165 caught; then, for the windows, the
harm caught at 25 benign answers flagged (ens5m's count), with a trimmed mean, the max and the min added.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "v23"))
sys.path.insert(0, str(HERE.parent / "v19"))

from ensemble import LABELS, numbers  # noqa: E402
from query_split import PROBE, groups  # noqa: E402

E5 = ["v15c", "v15c-s1", "v15c-s2", "v15c-s3", "v15c-s4"]
K = ["ko8-s5", "ko8-s6", "ko8-s7", "ko8-s8"]


def _logit(p: float) -> float:
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))


def _median(xs: list[float]) -> float:
    s, n = sorted(xs), len(xs)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


RULES = {"mean": lambda xs: sum(xs) / len(xs),
         "logit": lambda xs: 1 / (1 + math.exp(-sum(map(_logit, xs)) / len(xs))),
         "median": _median}
MORE = {"trim": lambda xs: (sum(xs) - max(xs) - min(xs)) / (len(xs) - 2), "max": max, "min": min}


def _windows(ms: list[dict], key: str, f) -> list[tuple[str, float]]:
    """Per answer: max over re-evaluations of the min over its windows of the combined P (ensemble.py's rule)."""
    out = []
    for rows in zip(*[m["windows"][key] for m in ms], strict=True):
        best = 0.0
        for per in zip(*(r[1] for r in rows), strict=True):
            best = max(best, min(f(list(ws)) for ws in zip(*per, strict=True)))
        out.append((rows[0][0], best))
    return out


def main() -> int:
    from saess.data.recipes import RecipeConfig, build_recipe

    load = lambda n: json.loads((ROOT / "runs/s29/ens" / f"{n}.json").read_text())  # noqa: E731
    g = groups(build_recipe(RecipeConfig(seed=0)))
    probe = [json.loads(x)["prompt"] for x in PROBE.read_text().splitlines() if x.strip()]
    lab = {json.loads(x)["prompt"]: json.loads(x)["label"] for x in LABELS.read_text().splitlines() if x.strip()}
    ref = numbers([load("v15c")])
    k = round(ref["old"]["tpr"] * sum(1 for v in g["old"].values() if v == 1))
    kw = ref["windows"]["read_harmful"]["caught"]
    sets = [("ens5", E5, E5), ("ens7w", E5 + K[:2], E5), ("ens9w", E5 + K, E5), ("ko4", K, K), ("ens9k", E5 + K, K)]
    for name, qs, ws in sets:
        qm, wm = [load(n) for n in qs], [load(n) for n in ws]
        for rule, f in RULES.items():
            q = {p: f([m["query"][p] for m in qm]) for p in qm[0]["query"]}
            t = sorted((q[p] for p, v in g["old"].items() if v == 1), reverse=True)[k - 1]
            split = sum(q[p] >= t for p, v in g["old"].items() if v == 0)
            edgy = sum(q[p] >= t for p in probe)
            harm = sorted((s for p, s in _windows(wm, "basemal", f) if lab.get(p) == "harmful"), reverse=True)
            wt = harm[kw - 1]
            nb = sum(s >= wt for _, s in _windows(wm, "benign", f))
            print(f"{name:6s} {rule:6s} query side {split + edgy:3d} (split {split}, probe {edgy}) | "
                  f"windows: benign answers flagged at {kw} caught {nb}")
    print("windows: harm caught (of the answers read harmful) at 25 benign answers flagged")
    for name, ws in (("ens5", E5), ("ko4", K), ("ens9", E5 + K)):
        wm = [load(n) for n in ws]
        for rule, f in {**RULES, **MORE}.items():
            wt = sorted((s for _, s in _windows(wm, "benign", f)), reverse=True)[24]
            h = [s for p, s in _windows(wm, "basemal", f) if lab.get(p) == "harmful"]
            print(f"{name:5s} {rule:6s} caught {sum(s > wt for s in h)} of {len(h)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
