"""Issue 11, session 15: where the benign refusals of a `saess eval` run come from.

    python docs/results/v15/refusal_sources.py RUN-rejudged [...]

For every benign sample a run's judge calls a refusal: `query` when the query was flagged (step 0 of the
trace malicious), `window` when strategic decoding refused later (finish reason `refused` without a flagged
query: rules 2-3 on the answer's windows), `lm` when the model's own text is the refusal (no rule acted).
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
    return "window" if r.get("finish_reason") == "refused" else "lm"


def main(runs: list[str]) -> int:
    for run in runs:
        recs = [json.loads(x) for x in open(Path(run) / "samples.jsonl", encoding="utf-8")]
        ben = [r for r in recs if r["attack"] == "benign"]
        c = Counter(source(r) for r in ben if r["refused"])
        print(f"{run}: {sum(c.values())} of {len(ben)} benign refused: query {c['query']}, window {c['window']}, "
              f"lm {c['lm']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
