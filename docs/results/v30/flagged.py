"""Issue 11, session 30, information (validation split and edgy probe only): the benign prompts an ensemble's mean
query score flags at a threshold, with their source (contrast part or other), highest score first.

    python docs/results/v30/flagged.py NAME,NAME,... THRESHOLD     (step-0 scores in runs/s29/ens)

Used to choose the registers of contrast parts p-s (docs/results/v30/rule.md, "Second candidate") from the errors of
session 29's `ens7` at its matched threshold: `python docs/results/v30/flagged.py
v15c,v15c-s1,v15c-s2,v15c-s3,v15c-s4,ko8-s5,ko8-s6 0.5328`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "v19"))

from query_split import PROBE, groups  # noqa: E402


def main() -> int:
    from saess.data.recipes import RecipeConfig, build_recipe

    names, thr = sys.argv[1].split(","), float(sys.argv[2])
    ms = [json.loads((ROOT / "runs/s29/ens" / f"{n}.json").read_text()) for n in names]
    q = {p: sum(m["query"][p] for m in ms) / len(ms) for p in ms[0]["query"]}
    g = groups(build_recipe(RecipeConfig(seed=0)))
    rows = [(q[p], "contrast" if p in g["contrast_old"] else "other", p)
            for p, lab in g["old"].items() if lab == 0 and q[p] >= thr]
    rows += [(q[p], "probe", p) for p in (json.loads(x)["prompt"] for x in PROBE.read_text().splitlines() if x.strip())
             if q[p] >= thr]
    for s, src, p in sorted(rows, reverse=True):
        print(f"{s:.3f} [{src}] {p[:150]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
