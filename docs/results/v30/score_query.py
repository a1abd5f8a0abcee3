"""Issue 11, session 30: step 0 of docs/results/v30/rule.md for a query-only member: the query part of
docs/results/v23/ensemble.py's `score` (the query view of the unique prompts of the recipe's validation split, seed 0,
and of the 280 edgy-probe prompts); a query-only member never judges a window of the answer alone, so none is scored.

    python docs/results/v30/score_query.py NAME MODEL [--dir runs/s30/ens]

Validation split and edgy probe only: no evaluation set is read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "v19"))


def main() -> int:
    from query_split import PROBE, groups

    from saess.data.recipes import RecipeConfig, build_recipe
    from saess.model.registry import ModelRegistry

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("model")
    ap.add_argument("--dir", default=str(ROOT / "runs/s30/ens"))
    a = ap.parse_args()
    g = groups(build_recipe(RecipeConfig(seed=0)))
    probe = [json.loads(x)["prompt"] for x in PROBE.read_text().splitlines() if x.strip()]
    prompts = list(dict.fromkeys([*g["old"], *g["new"], *probe]))
    model = ModelRegistry().load(a.model)
    res = {"model": a.model, "query": dict(zip(prompts, model.classify(prompts, batch_size=16), strict=True))}
    out = Path(a.dir) / f"{a.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res))
    print(f"{a.name}: {len(prompts)} query views -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
