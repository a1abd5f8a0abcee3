"""The validation probe files of docs/training.md ("The v4 run"): 60 benign and 60 malicious
prompts sampled (seed 0) from the recipe's validation split (no templates, no classifier-only
source). Usage: python docs/results/v4/make_val_prompts.py  -> runs/val_benign.jsonl, runs/val_malicious.jsonl"""
import json
import random
from pathlib import Path

from saess.data.recipes import build_recipe

r = build_recipe()
val = [e for e in r["alignment_val"] if e.template is None]
ben = [e for e in val if e.label == 0 and e.source != "cyberseceval"]
mal = [e for e in val if e.label == 1]
rng = random.Random(0)
b, m = rng.sample(ben, 60), rng.sample(mal, 60)
Path("runs").mkdir(exist_ok=True)
for name, rows in (("runs/val_benign.jsonl", b), ("runs/val_malicious.jsonl", m)):
    with open(name, "w") as f:
        for e in rows:
            f.write(json.dumps({"prompt": e.prompt, "source": e.source, "category": e.category}) + "\n")
