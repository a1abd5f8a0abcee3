"""Issue 11, session 30: the int8 `default` against the float16 one in `saess reproduce` (docs/reproduce.md).

    python docs/results/v30/same_texts.py runs/reproduce27 runs/reproduce28

For every step folder of the new run whose config names `default` and that the old run also holds, the samples
compared key by key (the sample's key, its response and finish reason): how many are identical.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def samples(d: Path) -> dict[str, tuple]:
    out = {}
    for line in (d / "samples.jsonl").read_text().splitlines():
        if line.strip():
            s = json.loads(line)
            out[s["key"]] = (s.get("response"), s.get("finish_reason"))
    return out


def main() -> int:
    old, new = Path(sys.argv[1]), Path(sys.argv[2])
    total = same = 0
    for d in sorted(p for p in new.iterdir() if (p / "samples.jsonl").exists() and (p / "config.json").exists()):
        models = json.loads((d / "config.json").read_text()).get("identity", {}).get("models") or []
        if "default" not in models or not (old / d.name / "samples.jsonl").exists():
            continue
        a = {k: v for k, v in samples(old / d.name).items() if k.startswith("default\t")}
        b = {k: v for k, v in samples(d).items() if k.startswith("default\t")}
        n = len(b)
        eq = sum(1 for k, v in b.items() if a.get(k) == v)
        total, same = total + n, same + eq
        print(f"{d.name:18s} {eq:4d} of {n:4d} identical" + ("" if len(a) == n else f" (old run: {len(a)})"))
    print(f"all: {same} of {total} identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
