"""docs/serve.md#length-aware-batching: four short prompts and one ~1,000-word prompt, batch size 5,
32 new tokens, model `default`; one batch in input order against `length_batches` (two rounds each,
interleaved, one process, the model loaded once).

    OMP_NUM_THREADS=1 python docs/results/serve/length_batching.py docs/results/serve/length_batching.json
"""
import json
import sys
import time

import torch

from saess.generation.batching import length_batches
from saess.generation.config import SamplingConfig
from saess.generation.engine import SafeGenerator
from saess.model.registry import ModelRegistry

SHORT = ["How do I bake bread at home?", "Write a haiku about autumn.", "What is the capital of Australia?",
         "Explain photosynthesis in one sentence."]
PARA = ("The river town woke slowly each morning, fishermen checking their nets while bakers lit their ovens "
        "and children walked to the old stone school beside the church. ").split()
LONG = "Summarise this story in two sentences: " + " ".join(PARA[i % len(PARA)] for i in range(1000))
rows = SHORT[:2] + [LONG] + SHORT[2:]

model = ModelRegistry().load("default")
gen = SafeGenerator(model)
sp = SamplingConfig(max_new_tokens=32)
lengths = [len(model.encoder.encode_chat(p)) for p in rows]
out = {"threads": torch.get_num_threads(), "prompt_tokens": lengths}
gen.generate(rows[:1], sampling=SamplingConfig(max_new_tokens=2))  # warm-up


def timed(batches):
    t0, done = time.perf_counter(), {}
    for b in batches:
        gen.generate([rows[i] for i in b], sampling=sp)
        for i in b:
            done[i] = round(time.perf_counter() - t0, 2)
    return {"batches": batches, "total_s": round(time.perf_counter() - t0, 2),
            "short_rows_done_s": max(done[i] for i in range(len(rows)) if lengths[i] < 200)}


for name, batches in (("input order, one batch of 5 (round 1)", [list(range(len(rows)))]),
                      ("length-aware (round 1)", length_batches(lengths, 5)),
                      ("input order, one batch of 5 (round 2)", [list(range(len(rows)))]),
                      ("length-aware (round 2)", length_batches(lengths, 5))):
    out[name] = timed(batches)
    print(name, out[name], flush=True)
json.dump(out, open(sys.argv[1], "w"), indent=1)
