"""Session 25: benign refusals of a `saess judge --judge trained:refusal` folder by source, for any reliance.

    python docs/results/v25/o_sources.py RUN-rejudged [...]

`query`: step 0 of the trace flagged the query; `window`: a later step's decision was malicious (rules 2-3; with
reliance medium the guide is inserted and the LM writes on, so the finish reason does not show it); `lm`: no rule
acted and the model's own text is the refusal.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def source(r: dict) -> str:
    tr = r.get("trace") or []
    if tr and tr[0].get("window") == "query" and tr[0].get("decision") == "malicious":
        return "query"
    return "window" if any(t.get("decision") == "malicious" for t in tr[1:]) else "lm"


for run in sys.argv[1:]:
    ben = [json.loads(x) for x in open(Path(run) / "samples.jsonl", encoding="utf-8")]
    ben = [r for r in ben if r["attack"] == "benign"]
    c = Counter(source(r) for r in ben if r["refused"])
    print(f"{run}: O {sum(c.values())}/{len(ben)} (query {c['query']}, window {c['window']}, LM {c['lm']})")
