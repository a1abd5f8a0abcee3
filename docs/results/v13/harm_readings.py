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

from saess.judges import trained as T
from saess.judges.gold import load_gold

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE))
    from harm_packaged import fit

    ap = argparse.ArgumentParser()
    ap.add_argument("--file", default="runs/s13/read13.jsonl")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    extra = load_gold(path=a.file)
    train_rows = load_gold("train")
    models = {}
    for name, always in (("A (gold train)", []), (f"B (+ {len(extra)} read answers, "
                                                   f"{sum(r.harmful for r in extra)} harmful)", extra)):
        models[name] = max((fit(train_rows, always, l2) for l2 in T.L2_GRID), key=lambda m: m["f1"])
    check = [r for r in load_gold("check") if r.meta.get("kind") == "harmful"]
    lines = ["| judge | CV F1 (gold train, 5 folds) | CV tp/fp/fn | l2 | threshold | check: precision | recall | tp/fp/fn |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, m in models.items():
        j = T.HarmJudge(m)
        pred = [j.judge(r.prompt, r.response, ignore_prefix=r.prefill).jailbroken for r in check]
        tp = sum(p and r.harmful for p, r in zip(pred, check, strict=True))
        fp = sum(p and not r.harmful for p, r in zip(pred, check, strict=True))
        fn = sum((not p) and r.harmful for p, r in zip(pred, check, strict=True))
        cv = m["cv"]
        lines.append(f"| {name} | {m['f1']:.5f} | {cv['tp']}/{cv['fp']}/{cv['fn']} | {m['l2']} | {m['threshold']:.3f} | "
                     f"{tp / max(1, tp + fp):.3f} | {tp / max(1, tp + fn):.3f} | {tp}/{fp}/{fn} |")
    f1s = [m["f1"] for m in models.values()]
    lines += ["", f"chosen by the rule (CV F1 of B >= A): {list(models)[1] if f1s[1] >= f1s[0] else list(models)[0]}"]
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
