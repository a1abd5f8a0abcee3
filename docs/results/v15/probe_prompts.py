"""Issue 11, session 15: the larger generation probe on the recipe's validation split (no evaluation set).

    python docs/results/v15/probe_prompts.py runs/s14/val_mal_prompts.jsonl runs/s14/val_benign_prompts.jsonl

Writes docs/results/v15/probe_malicious.jsonl and probe_benign.jsonl: 200 seeded draws of each of the split's
distinct malicious and benign prompts (`docs/results/v14/val_harmful_windows.py prompts`; the benign file of
`docs/results/v7/val_answers.sh`), none of the 60 + 60 of the session-4 probe (`docs/results/v4/val_*.jsonl`)
that `default` was chosen on, so the two probes are disjoint.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
V4 = HERE.parent / "v4"
N = 200


def _prompts(path: Path) -> list[str]:
    return [json.loads(x)["prompt"] for x in path.read_text().splitlines() if x.strip()]


def main(mal: str, ben: str) -> int:
    for src, old, name in ((mal, "val_malicious.jsonl", "probe_malicious.jsonl"),
                           (ben, "val_benign.jsonl", "probe_benign.jsonl")):
        seen = set(_prompts(V4 / old))
        ps = sorted(p for p in dict.fromkeys(_prompts(Path(src))) if p not in seen)
        random.Random(15).shuffle(ps)
        with open(HERE / name, "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"prompt": p}) + "\n" for p in ps[:N])
        print(f"{min(N, len(ps))} of {len(ps)} prompts ({len(seen)} of the session-4 probe left out) -> {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
