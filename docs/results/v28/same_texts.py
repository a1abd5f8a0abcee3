"""Session 28: how many answers of an evaluation run are token for token those of another run of the same prompts
(here the int8 form of `default` against the float16 form of session 27).

    python docs/results/v28/same_texts.py RUN_A RUN_B [RUN_A2 RUN_B2 ...]

Pairs samples by their key without its model field; prints per pair of runs the samples compared, the texts equal,
and for the others the case ids with both finish reasons.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def samples(run: str) -> dict[str, dict]:
    out = {}
    for line in (Path(run) / "samples.jsonl").read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["key"].split("\t", 1)[1]] = r
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    for a, b in zip(argv[::2], argv[1::2], strict=True):
        ra, rb = samples(a), samples(b)
        common = sorted(ra.keys() & rb.keys())
        diff = [k for k in common if ra[k]["response"] != rb[k]["response"]]
        print(f"{b}: {len(common)} samples ({len(ra)} / {len(rb)}), {len(common) - len(diff)} texts equal, "
              f"{len(diff)} differ")
        for k in diff:
            print(f"  {k}: {ra[k]['finish_reason']} -> {rb[k]['finish_reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
