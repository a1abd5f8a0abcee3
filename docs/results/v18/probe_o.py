"""Session 18: O of a step-2 probe run split by where the refusal came from (query judgement, window rules,
the LM by itself), from a `saess judge --judge trained:refusal` folder's samples.

    python docs/results/v18/probe_o.py runs/s15/probe-NAME-rejudged [...]
"""

from __future__ import annotations

import json
import sys
from collections import Counter


def where(s: dict) -> str:
    acts = [t for t in s["trace"] if t.get("decision") == "malicious" and not t.get("false_trigger")]
    if s["trace"][0]["decision"] == "malicious" and s["finish_reason"] == "refused":
        return "query"
    if s["finish_reason"] == "refused" or any("inserted_guide_at" in t for t in acts):
        return "window"
    return "LM"


for run in sys.argv[1:]:
    rows = [json.loads(x) for x in open(f"{run}/samples.jsonl")]
    ben = [s for s in rows if s["attack"] == "benign"]
    refused = [s for s in ben if s["refused"]]
    c = Counter(where(s) for s in refused)
    rel = sum(1 for s in ben for t in s["trace"] if t.get("false_trigger") and "recheck" in t)
    print(f"{run}: O {len(refused)}/{len(ben)} (query {c['query']}, window {c['window']}, LM {c['LM']}); "
          f"window verdicts released by recheck: {rel}")
