"""Issue 12, session 11: does a written set of refusal and compliance styles help the refusal judge?

    python docs/results/v11/refusal_synth.py [--out FILE]

Trains `trained:refusal` by its own procedure (saess.judges.refusal_model.train: leave-one-source-out
CV over the development sources, gold train split + XSTest's gpt4 and llama2orig completions) twice:
(A) on the development rows alone (today's data; the committed judge file predates 6 gold train rows),
(B) with the 640 written rows of `docs/results/v11/synthetic_refusals.jsonl` (this project, session 11: one
writer agent, from the labelling definitions of XSTest's paper only, told not to open any check set) added to the training
part of every fold and of the final fit (never a fold: the CV scores the same development rows).

Rule, fixed before the run: adopt (B) if and only if its CV F1 on the development folds is at least
(A)'s. The held-out parts (XSTest llama2new / mistralguard / mistralinstruct, PyRIT extra, the gold
check split) are printed for both, after the choice, and never change it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from saess.judges.checksets import CheckRow
from saess.judges.measure import _parts, load_check_set, score
from saess.judges.refusal_model import TrainedRefusalJudge, train, training_rows

SYNTH = Path(__file__).resolve().parent / "synthetic_refusals.jsonl"


def synthetic_rows(path: Path = SYNTH) -> list[CheckRow]:
    rows = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        r = json.loads(line)
        if r["label"] not in ("refusal", "compliance"):
            raise SystemExit(f"{path}:{no}: label {r['label']!r}")
        rows.append(CheckRow("synthetic", r["id"], r["prompt"], r["response"], r["label"],
                             refusal=r["label"] == "refusal", meta={"style": r["style"]}))
    return rows


def compare(models: dict) -> tuple[str, str]:
    """The table of two refusal judges (A, then B, in `models`' order): their CV on the development
    folds, the rule's choice (B iff its CV F1 is at least A's), then both on every held-out check part.
    Returns (Markdown text, the chosen key)."""
    lines = ["| judge | CV F1 (dev folds) | CV precision | CV recall | opening | l2 | threshold |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for k, m in models.items():
        cv = m["cv"]
        lines.append(f"| {k} | {cv['f1']:.4f} | {cv['precision']:.3f} | {cv['recall']:.3f} | {m['head_chars']} | "
                     f"{m['l2']} | {m['threshold']:.3f} |")
    (ka, a_m), (kb, b_m) = models.items()
    chosen = kb if b_m["cv"]["f1"] >= a_m["cv"]["f1"] else ka
    lines += ["", f"chosen by the rule (CV F1 of B >= A): {chosen}", "",
              "| set | judge | n | precision | recall | tp/fp/tn/fn |", "| --- | --- | --- | --- | --- | --- |"]
    for s in ("xstest", "pyrit-refusal", "gold-check"):
        rows = load_check_set(s)
        for part, prow in _parts(s, rows):
            if part == "gold-check harmful":
                continue
            for k, m in models.items():
                for off in (False, True):
                    if off and not part.startswith("pyrit"):
                        continue
                    j = TrainedRefusalJudge(m, offtopic_is_refusal=off)
                    sc = score(j, prow, "refusal", part)
                    lines.append(f"| {part} | {k}{' +offtopic' if off else ''} | {sc.n} | {sc.precision:.3f} | "
                                 f"{sc.recall:.3f} | {sc.tp}/{sc.fp}/{sc.tn}/{sc.fn} |")
    return "\n".join(lines), chosen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="also write the table here")
    ap.add_argument("--write-judge", default=None, help="write the chosen judge file here")
    a = ap.parse_args(argv)
    dev = training_rows()
    models = {"A (development rows)": train(dev), "B (+ 640 written rows)": train(dev, always=synthetic_rows())}
    text, chosen = compare(models)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    if a.write_judge:
        Path(a.write_judge).write_text(json.dumps(models[chosen]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
