"""Issue 11, session 30, information (validation split only): the spread of the query side over which members are
added to v26e's five (docs/results/v30/query_side.py's computation for every pair of the four k-o members, every
single new member, and four of the five alone).

    python docs/results/v30/spread.py
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for d in ("v30", "v23", "v19"):
    sys.path.insert(0, str(HERE.parent / d))

from ensemble import numbers  # noqa: E402
from query_side import ENS5, _load, query_side  # noqa: E402
from query_split import PROBE, groups  # noqa: E402

KO = ["ko8-s5", "ko8-s6", "ko8-s7", "ko8-s8"]


def main() -> int:
    from saess.data.recipes import RecipeConfig, build_recipe

    g = groups(build_recipe(RecipeConfig(seed=0)))
    probe = [json.loads(x)["prompt"] for x in PROBE.read_text().splitlines() if x.strip()]
    ref = numbers([_load("v15c")])
    k = round(ref["old"]["tpr"] * sum(1 for lab in g["old"].values() if lab == 1))

    def side(names):
        return query_side(list(names), k, g, probe)["query_side"]

    print("five + two k-o members:", {"+".join(p): side(ENS5 + list(p)) for p in itertools.combinations(KO, 2)})
    print("four of the five:", [side(s) for s in itertools.combinations(ENS5, 4)])
    print("five + one member:", {m: side(ENS5 + [m]) for m in KO + ["qs-s5", "qs-s6", "pqrs-s5", "pqrs-s6"]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
