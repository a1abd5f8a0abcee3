"""Session 19: every reading of an earlier step-2 probe, with its sample key renamed to another model's run, so that
`docs/results/v13/transfer_reads.py` carries a reading over to an identical text (same prompt, same attack, same
sha256) of the new candidate's probe run.

    python docs/results/v19/probe_reads.py MODEL_NAME OUT.jsonl

MODEL_NAME: the `--model` the probe run was made with (the first field of its sample keys, e.g. runs/s19/v19w-cal).
Sources: the probes of sessions 15-18 (default v11wh, v14c, v15, v15c, v15cf, v15cfr, v15cfr2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
FILES = ["v18/readings-v15cfr2-probe.jsonl", "v18/read-probe-v15cfr/readings.jsonl",
         "v17/read-probe-v15cf/all-readings.jsonl", "v16/read-probe-v15c/readings.jsonl",
         "v15/read-probe-default/readings.jsonl", "v15/read-probe-v14c/readings.jsonl",
         "v15/read-probe-v15/readings.jsonl"]


def main(name: str, out: str) -> int:
    rows = []
    for f in FILES:
        for line in (DOCS / f).read_text().splitlines():
            r = json.loads(line)
            if "key" not in r or "label" not in r or r["label"] is None:
                continue  # a tally's summary line
            _, attack, case = r["key"].split("\t")
            rows.append({"key": f"{name}\t{attack}\t{case}", "sha256": r["sha256"], "label": r["label"],
                         "how": f"read for an earlier probe ({f})"})
    Path(out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} readings renamed to {name} -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
