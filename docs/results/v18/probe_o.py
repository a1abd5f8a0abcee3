"""Session 18: O of a step-2 probe run split by where the refusal came from (query judgement, window rules,
the LM by itself), from a `saess judge --judge trained:refusal` folder's samples.

    python docs/results/v18/probe_o.py runs/s15/probe-NAME-rejudged [...]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "v15"))
from refusal_sources import source  # noqa: E402  (query / window / lm, as for the evaluation runs)

for run in sys.argv[1:]:
    rows = [json.loads(x) for x in open(f"{run}/samples.jsonl")]
    ben = [s for s in rows if s["attack"] == "benign"]
    refused = [s for s in ben if s["refused"]]
    c = Counter(source(s) for s in refused)
    rel = sum(1 for s in ben for t in s["trace"] if t.get("false_trigger") and "recheck" in t)
    print(f"{run}: O {len(refused)}/{len(ben)} (query {c['query']}, window {c['window']}, LM {c['lm']}); "
          f"window verdicts released by recheck: {rel}")
