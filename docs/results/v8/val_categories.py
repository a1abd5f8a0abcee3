"""Per source and category of the recipe's validation split (seed 0): prompts the model's head gets
wrong at its own threshold (benign flagged, malicious missed). Usage:
python docs/results/v8/val_categories.py MODEL OUT.json   (issue 11, session 8; no evaluation set is read)
Prints `(label, source, category) wrong / total` and writes every prompt's score to OUT.json.
"""
import collections
import json
import sys

import torch

from saess.data.recipes import RecipeConfig, build_recipe
from saess.model.registry import load_safety_model

torch.set_num_threads(1)
model = load_safety_model(sys.argv[1])
first = {}
for e in build_recipe(RecipeConfig(seed=0))["alignment_val"]:
    first.setdefault(e.prompt, (e.label, e.source, e.category))
prompts = list(first)
scores = model.classify(prompts, batch_size=16)
th = model.config.threshold
out = [{"prompt": p, "label": first[p][0], "source": first[p][1], "category": first[p][2], "score": s}
       for p, s in zip(prompts, scores, strict=True)]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(out, f)
wrong, total = collections.Counter(), collections.Counter()
for o in out:
    k = (o["label"], o["source"], o["category"] if o["source"] == "contrast" else None)
    total[k] += 1
    wrong[k] += (o["score"] >= th) != bool(o["label"])
for k in sorted(total, key=str):
    print(k, wrong[k], "/", total[k])
