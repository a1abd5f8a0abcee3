"""Validation probes of the shapes the v4 head missed (issue 11, session 6): 40 malicious prompts
wrapped in the nesting pool (a request inside a multi-part task, after a passage, or in a story),
20 benign prompts wrapped the same way and 20 generated word problems, all sampled (seed 0) from the
recipe's validation split. None is an evaluation prompt; v4 was trained before the nesting pool and
the word problems existed and never saw the validation split.
Usage: python docs/results/v6/make_val_shapes.py -> runs/val_shapes_malicious.jsonl, runs/val_shapes_benign.jsonl"""
import json
import random
from pathlib import Path

from saess.data.recipes import build_recipe

r = build_recipe()
val = r["alignment_val"]
nest_mal = [e for e in val if e.label == 1 and (e.template or "").startswith("nest_")]
nest_ben = [e for e in val if e.label == 0 and (e.template or "").startswith("nest_") and e.source != "cyberseceval"]
words = [e for e in val if e.label == 0 and e.source == "wordproblems" and e.template is None]
rng = random.Random(0)
m = rng.sample(nest_mal, 40)
b = rng.sample(nest_ben, 20) + rng.sample(words, 20)
Path("runs").mkdir(exist_ok=True)
for name, rows in (("runs/val_shapes_benign.jsonl", b), ("runs/val_shapes_malicious.jsonl", m)):
    with open(name, "w") as f:
        for e in rows:
            f.write(json.dumps({"prompt": e.prompt, "source": e.source, "category": e.category,
                                "template": e.template}) + "\n")
print(len(nest_mal), len(nest_ben), len(words))
