"""The pipeline's validation report (queries + windows, same seeded sample) for any saved model.
Usage: python runs/val_report.py MODEL RUN_DIR OUT.json   (RUN_DIR: a v4 run folder, for its retain answers)"""
import json
import random
import sys
from pathlib import Path

from saess.data.recipes import RecipeConfig, build_recipe
from saess.model.registry import load_safety_model
from saess.training.pipeline import CLASSIFIER_ONLY_SOURCES, _validation_report

name, run, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
limit = int(sys.argv[4]) if len(sys.argv) > 4 else 300
model = load_safety_model(name)
model.encoder.max_length = 256  # as during training: the same views are skipped
recipe = build_recipe(RecipeConfig(seed=0))
answers = {}
for line in (run / "data" / "retain.jsonl").read_text().splitlines():
    d = json.loads(line)
    answers[d["prompt"]] = d["response"]
MAL = 1


def chats(items, sft=True):
    res = []
    for e in items:
        if sft and e.source in CLASSIFIER_ONLY_SOURCES:
            continue
        resp = e.response if e.response is not None else answers.get(e.prompt)
        if resp or not sft:
            res.append((e.prompt, resp, e.label, None))
    return res


align_val = chats(recipe["alignment_val"])
val_answered = [(p, r, lab) for p, r, lab, _ in align_val if lab != MAL and r]
val_answered += [(e.prompt, e.response, MAL) for e in recipe.get("harmful_answers_val", [])]
val_chats = chats(recipe["alignment_val"], sft=False)
out.parent.mkdir(parents=True, exist_ok=True)
rep = _validation_report(model, model.encoder, val_chats, val_answered, random.Random(1), out.parent, name, limit)
out.write_text(json.dumps(rep, indent=2))
print(json.dumps(rep))
