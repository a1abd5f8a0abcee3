"""Issue 12, session 13: do the session's read answers of v11wh help the harm judge (`trained:harm`)?

    python docs/results/v13/build_read13.py            # runs/s13/read13.jsonl (needs the session's run folders)
    python docs/results/v13/harm_readings.py [--file runs/s13/read13.jsonl] [--out FILE]

The 1,717 answers read in session 13 (two blind readers and a third; without the answers to prompts of
the gold check split; one row per distinct text), added to the training part of every fold of
`trained:harm`'s own procedure and to its final fit (docs/results/v13/harm_packaged.py's `fit`). Rule
fixed before the run: adopt iff the CV F1 on the gold train folds does not drop. The gold check split is
printed for both, after the choice.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from saess.judges.gold import load_gold

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE))
    from harm_packaged import compare

    ap = argparse.ArgumentParser()
    ap.add_argument("--file", default="runs/s13/read13.jsonl")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    extra = load_gold(path=a.file)
    text = compare(load_gold("train"), extra, f"B (+ {len(extra)} read answers, {sum(r.harmful for r in extra)} harmful)")
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
