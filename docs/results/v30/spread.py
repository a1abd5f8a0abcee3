"""Session 30, information (validation split): the spread of the query side over which members are added."""
import itertools
import json
import sys

sys.path.insert(0, "docs/results/v30"); sys.path.insert(0, "docs/results/v23"); sys.path.insert(0, "docs/results/v19")
from ensemble import numbers
from query_side import ENS5, _load, query_side
from query_split import PROBE, groups

from saess.data.recipes import RecipeConfig, build_recipe

g = groups(build_recipe(RecipeConfig(seed=0)))
probe = [json.loads(x)["prompt"] for x in PROBE.read_text().splitlines() if x.strip()]
ref = numbers([_load("v15c")]); k = round(ref["old"]["tpr"] * sum(1 for l in g["old"].values() if l == 1))
KO = ["ko8-s5", "ko8-s6", "ko8-s7", "ko8-s8"]
print("five + two k-o members:", {"+".join(p): query_side(ENS5 + list(p), k, g, probe)["query_side"] for p in itertools.combinations(KO, 2)})
print("four of the five:", [query_side(list(s), k, g, probe)["query_side"] for s in itertools.combinations(ENS5, 4)])
print("five + one k-o:", {m: query_side(ENS5 + [m], k, g, probe)["query_side"] for m in KO + ["qs-s5", "qs-s6", "pqrs-s5", "pqrs-s6"]})
