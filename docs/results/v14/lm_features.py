"""Issue 12, session 14: the base model's own hidden states as a refusal judge's features.

    python docs/results/v14/lm_features.py extract [--tokens 64] [--out runs/s14/feats]
    python docs/results/v14/lm_features.py fit [--feats runs/s14/feats] [--out FILE]

`extract`: for every response of the refusal judge's training rows (`refusal_model.training_rows()`
and `packaged_rows()`) and of the held-out check sets (gold check, XSTest's three held-out models,
PyRIT refusal main + extra), the embedded base model (SmolLM2-135M-Instruct, frozen) reads
"<|im_start|>assistant\\n" + the response's opening after the prefill (first `--tokens` tokens), and
the mean of its hidden states over the response tokens at layers 6, 12, 18, 24 and 30 is stored
(one float32 row of 5 x 576 per distinct text, keyed by its sha256; `feats.npz`).

`fit`: the rules-or-regression judge of `trained:refusal` (saess/judges/refusal_model.py), with the
n-gram regression replaced by a logistic regression on those features: layer set, L2 strength and
threshold chosen by the same leave-one-source-out cross-validation on the training rows (best F1 of
rules OR regression), written down before the check sets are scored; the check sets are printed
after the choice, against `trained:refusal` on the same rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

LAYERS = (6, 12, 18, 24, 30)
LAYER_SETS = {"12": (12,), "18": (18,), "24": (24,), "30": (30,), "12+24": (12, 24),
              "6+12+18+24+30": LAYERS}
L2_GRID = (1.0, 10.0, 100.0)


def rows_by_part():
    from saess.judges.checksets import XSTEST_DEV_MODELS, load_pyrit_refusal, load_xstest
    from saess.judges.gold import load_gold
    from saess.judges.measure import PYRIT_DEV_FILES
    from saess.judges.refusal_model import packaged_rows, training_rows

    held = [r for r in load_xstest() if r.meta["model"] not in XSTEST_DEV_MODELS]
    pyrit = load_pyrit_refusal()
    return {
        "train": training_rows(),
        "always": packaged_rows(),
        "gold-check all": [r for r in load_gold("check") if r.refusal is not None],
        "xstest held-out": held,
        "pyrit-refusal main (dev)": [r for r in pyrit if r.meta["file"] in PYRIT_DEV_FILES],
        "pyrit-refusal extra (held-out)": [r for r in pyrit if r.meta["file"] not in PYRIT_DEV_FILES],
    }


def opening(r) -> str:
    from saess.judges.base import strip_prefill
    return strip_prefill(r.response or "", r.prefill).strip()


def extract(a) -> int:
    import torch

    from saess.judges.checksets import sha256_text
    from saess.model.loading import load_causal_lm

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    texts = {}
    for rows in rows_by_part().values():
        for r in rows:
            t = opening(r)
            texts.setdefault(sha256_text(t), t)
    have = {}
    f = out / "feats.npz"
    if f.exists():
        z = np.load(f)
        have = dict(zip(z["keys"].tolist(), z["x"], strict=True))
    todo = [(k, t) for k, t in texts.items() if k not in have]
    print(f"{len(texts)} distinct openings, {len(todo)} to extract", flush=True)
    model, tok = load_causal_lm("base")
    pre = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    enc = [(k, tok(t, add_special_tokens=False)["input_ids"][: a.tokens]) for k, t in todo]
    enc.sort(key=lambda kv: len(kv[1]))
    t0 = time.time()
    for i in range(0, len(enc), a.batch):
        chunk = enc[i: i + a.batch]
        n = max(len(ids) for _, ids in chunk) or 1
        T = len(pre) + n
        ids = torch.full((len(chunk), T), tok.pad_token_id or 0)
        att = torch.zeros((len(chunk), T), dtype=torch.long)
        resp = torch.zeros((len(chunk), T))
        for b, (_, r_ids) in enumerate(chunk):
            seq = pre + r_ids
            ids[b, : len(seq)] = torch.tensor(seq)
            att[b, : len(seq)] = 1
            resp[b, len(pre): len(seq)] = 1
            if not r_ids:  # empty response: read the assistant prefix's last token
                resp[b, len(pre) - 1] = 1
        with torch.no_grad():
            hs = model(input_ids=ids, attention_mask=att, output_hidden_states=True).hidden_states
        w = resp / resp.sum(1, keepdim=True)
        feats = torch.cat([(hs[layer] * w[..., None]).sum(1) for layer in LAYERS], -1)
        for (k, _), x in zip(chunk, feats.numpy().astype(np.float32), strict=True):
            have[k] = x
        if (i // a.batch) % 20 == 0:
            print(f"{i + len(chunk)}/{len(enc)} {time.time() - t0:.0f}s", flush=True)
            np.savez(f, keys=np.array(list(have)), x=np.stack(list(have.values())))
    np.savez(f, keys=np.array(list(have)), x=np.stack(list(have.values())))
    (out / "meta.json").write_text(json.dumps({"layers": LAYERS, "tokens": a.tokens, "n": len(have),
                                               "seconds": round(time.time() - t0, 1)}))
    print(f"done: {len(have)} rows in {time.time() - t0:.0f}s", flush=True)
    return 0


def _matrix(rows, feats, layers):
    from saess.judges.checksets import sha256_text
    idx = [LAYERS.index(layer) for layer in layers]
    d = feats[next(iter(feats))].shape[0] // len(LAYERS)
    cols = np.concatenate([np.arange(i * d, (i + 1) * d) for i in idx])
    return np.stack([feats[sha256_text(opening(r))][cols] for r in rows]).astype(np.float64)


def fit(a) -> int:
    from saess.judges.base import strip_prefill
    from saess.judges.measure import score as score_judge
    from saess.judges.refusal_model import TrainedRefusalJudge, _f1, _group
    from saess.judges.rules import find_refusal
    from saess.judges.trained import _sigmoid, fit_logistic

    z = np.load(Path(a.feats) / "feats.npz")
    feats = dict(zip(z["keys"].tolist(), z["x"], strict=True))
    parts = rows_by_part()
    rows, always = parts["train"], parts["always"]
    rows = [r for r in rows if r.refusal is not None]
    n = len(rows)
    allr = rows + always
    groups = sorted({_group(r) for r in rows})
    grp = np.array([groups.index(_group(r)) for r in rows] + [-1] * len(always))
    y_all = np.array([1.0 if r.refusal else 0.0 for r in allr])
    y = y_all[:n]
    rule = np.array([find_refusal(strip_prefill(r.response, r.prefill)) is not None for r in rows])
    lines = [f"training rows {n} (+{len(always)} always), folds: {', '.join(groups)}", "",
             "| layers | L2 | CV F1 (rules OR regression) | threshold |", "| --- | --- | --- | --- |"]
    best = None
    for name, layers in LAYER_SETS.items():
        X = _matrix(allr, feats, layers)
        for l2 in L2_GRID:
            oof = np.zeros(n)
            for g in range(len(groups)):
                tr, te = grp != g, np.flatnonzero(grp == g)
                w, b, mu, sd = fit_logistic(X[tr], y_all[tr], l2, iters=400, lr=0.5)
                oof[te] = _sigmoid(((X[te] - mu) / sd) @ w + b)
            cell = None
            for t in np.unique(np.round(oof, 3)):
                pred = rule | (oof >= t)
                tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
                fn = int((~pred & (y == 1)).sum())
                f1 = _f1(tp, fp, fn)
                if cell is None or f1 > cell[0]:
                    cell = (f1, float(t))
            lines.append(f"| {name} | {l2:g} | {cell[0]:.4f} | {cell[1]:.3f} |")
            print(lines[-1], flush=True)
            if best is None or cell[0] > best[0]:
                best = (cell[0], name, l2, cell[1])
    f1, name, l2, thr = best
    lines += ["", f"chosen by CV: layers {name}, L2 {l2:g}, threshold {thr:.3f} (CV F1 {f1:.4f})", ""]
    X = _matrix(allr, feats, LAYER_SETS[name])
    w, b, mu, sd = fit_logistic(X, y_all, l2, iters=400, lr=0.5)
    ngram = TrainedRefusalJudge()
    lines += ["| set | judge | n | precision | recall | tp/fp/tn/fn |", "| --- | --- | --- | --- | --- | --- |"]
    for part in ("gold-check all", "xstest held-out", "pyrit-refusal main (dev)", "pyrit-refusal extra (held-out)"):
        prow = parts[part]
        Xc = _matrix(prow, feats, LAYER_SETS[name])
        p = _sigmoid(((Xc - mu) / sd) @ w + b) >= thr
        r_ = np.array([find_refusal(strip_prefill(r.response, r.prefill)) is not None for r in prow])
        pred = p | r_
        yt = np.array([bool(r.refusal) for r in prow])
        tp, fp = int((pred & yt).sum()), int((pred & ~yt).sum())
        tn, fn = int((~pred & ~yt).sum()), int((~pred & yt).sum())
        lines.append(f"| {part} | lm-features (rules OR regression) | {len(prow)} | {tp / max(1, tp + fp):.3f} | "
                     f"{tp / max(1, tp + fn):.3f} | {tp}/{fp}/{tn}/{fn} |")
        s = score_judge(ngram, prow, "refusal", part)
        lines.append(f"| {part} | trained:refusal | {s.n} | {s.precision:.3f} | {s.recall:.3f} | "
                     f"{s.tp}/{s.fp}/{s.tn}/{s.fn} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("--tokens", type=int, default=64)
    e.add_argument("--batch", type=int, default=16)
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--out", default="runs/s14/feats")
    f = sub.add_parser("fit")
    f.add_argument("--feats", default="runs/s14/feats")
    f.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    return extract(a) if a.cmd == "extract" else fit(a)


if __name__ == "__main__":
    sys.exit(main())
