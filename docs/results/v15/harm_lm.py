"""Issue 12, session 15: the base model's hidden states as a harmful-compliance judge's features.

    python docs/results/v15/harm_lm.py extract [--read13 runs/s13/read13.jsonl]
        [--valmal runs/s14/val_mal_answers.jsonl] [--out runs/s15/harmfeats]
    python docs/results/v15/harm_lm.py fit [same inputs] [--out docs/results/v15/harm_lm_fit.md]

Why: the trained harm judge (`trained:harm`, 17 text features) reaches precision 0.667 / recall 0.174 on the
gold check split's harmful-prompt rows; extra text did not help it (session 13). A small model's harmful
answer is on-topic writing that takes the request on; whether it does is a question about the request and
the answer together, which word features see poorly. Here the embedded base model (SmolLM2-135M-Instruct,
frozen) reads the chat (the request, at most its last 192 tokens; then the assistant turn: the attacker's
prefill, if any, and what the model wrote, at most 128 tokens) and the mean of its hidden states over what the
model wrote, at layers 6 / 12 / 18 / 24 / 30, is one row of features.

Development rows (read by people or reader agents; never a check set): the gold **train** split's
harmful-prompt rows, the 1,717 answers of `default` (v11wh) read in session 13 without the check split's
prompts (`docs/results/v13/build_read13.py` writes `runs/s13/read13.jsonl`) and the base model's 435 answers
to the malicious validation prompts read in session 14 (`docs/results/v14/read-valmal/labels.jsonl`, texts in
`runs/s14/val_mal_answers.jsonl`). Check rows: the gold **check** split's harmful-prompt rows (412).

Rule, written before any number: cross-validation leaves one development source out at a time (each fold
meets a model or a protocol it did not train on); the regression on the LM features (layer set and L2 from
a grid) and the 17-feature regression of `trained:harm` (L2 from its grid) are fitted on the same folds, each
with its F1-best threshold over the pooled out-of-fold scores. The LM-feature judge is worth building into
`saess.judges` only if its CV F1 beats the 17 features' by at least 0.03; the check split is scored after
that choice, for both.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

LAYERS = (6, 12, 18, 24, 30)
LAYER_SETS = {"12": (12,), "18": (18,), "24": (24,), "12+24": (12, 24), "all": LAYERS}
L2_GRID = (1.0, 10.0, 100.0)
REQ_TOKENS, RESP_TOKENS = 192, 128
DEV_NAMES = ("gold-train", "read13", "valmal")  # the development sources, one CV fold each


def _rows(a) -> dict[str, list[dict]]:
    """source -> [{prompt, prefill, response, harmful}] (harmful-prompt rows only)."""
    from saess.judges.gold import load_gold

    def gold(split):
        return [dict(prompt=r.prompt, prefill=r.prefill, response=r.response, harmful=bool(r.harmful))
                for r in load_gold(split) if r.meta.get("kind") == "harmful"]

    read13 = [json.loads(x) for x in open(a.read13, encoding="utf-8") if x.startswith("{")]
    lab = {json.loads(x)["prompt"]: json.loads(x)["label"]
           for x in open("docs/results/v14/read-valmal/labels.jsonl", encoding="utf-8")}
    valmal = [json.loads(x) for x in open(a.valmal, encoding="utf-8") if x.strip()]
    return {
        "gold-train": gold("train"),
        "read13": [dict(prompt=r["prompt"], prefill=r.get("prefill"), response=r["response"],
                        harmful=r["label"] == "harmful") for r in read13 if r.get("kind", "harmful") == "harmful"],
        "valmal": [dict(prompt=r["prompt"], prefill=r.get("prefill"), response=r["response"],
                        harmful=lab[r["prompt"]] == "harmful") for r in valmal if r["prompt"] in lab],
        "gold-check": gold("check"),
    }


def _key(r) -> str:
    from saess.judges.checksets import sha256_text
    return sha256_text(json.dumps([r["prompt"], r.get("prefill") or "", r["response"]]))


def _written(r) -> str:
    from saess.judges.base import strip_prefill
    return strip_prefill(r["response"] or "", r.get("prefill"))


def extract(a) -> int:
    import torch

    from saess.model.loading import load_causal_lm

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {_key(r): r for part in _rows(a).values() for r in part}
    f = out / "feats.npz"
    have = {}
    if f.exists():
        z = np.load(f)
        have = dict(zip(z["keys"].tolist(), z["x"], strict=True))
    todo = [(k, r) for k, r in rows.items() if k not in have]
    print(f"{len(rows)} distinct rows, {len(todo)} to extract", flush=True)
    model, tok = load_causal_lm("base")

    def ids(t):
        return tok(t, add_special_tokens=False)["input_ids"]

    enc = []
    for k, r in todo:
        head = ids("<|im_start|>user\n") + ids(r["prompt"])[-REQ_TOKENS:] + ids("<|im_end|>\n<|im_start|>assistant\n")
        pre = ids(r["prefill"]) if r.get("prefill") else []
        gen = ids(_written(r))[:RESP_TOKENS]
        enc.append((k, head + pre, gen))
    enc.sort(key=lambda x: len(x[1]) + len(x[2]))
    t0 = time.time()
    for i in range(0, len(enc), a.batch):
        chunk = enc[i: i + a.batch]
        T = max(len(c) + max(1, len(g)) for _, c, g in chunk)
        x = torch.full((len(chunk), T), tok.pad_token_id or 0)
        att = torch.zeros((len(chunk), T), dtype=torch.long)
        w = torch.zeros((len(chunk), T))
        for b, (_, ctx, gen) in enumerate(chunk):
            seq = ctx + gen
            x[b, : len(seq)] = torch.tensor(seq)
            att[b, : len(seq)] = 1
            if gen:
                w[b, len(ctx): len(seq)] = 1
            else:  # nothing written: the state of the turn's last token
                w[b, len(ctx) - 1] = 1
        with torch.no_grad():
            hs = model(input_ids=x, attention_mask=att, output_hidden_states=True).hidden_states
        w = w / w.sum(1, keepdim=True)
        feats = torch.cat([(hs[layer] * w[..., None]).sum(1) for layer in LAYERS], -1)
        for (k, _, _), v in zip(chunk, feats.numpy().astype(np.float32), strict=True):
            have[k] = v
        if (i // a.batch) % 20 == 0:
            print(f"{i + len(chunk)}/{len(enc)} {time.time() - t0:.0f}s", flush=True)
            np.savez(f, keys=np.array(list(have)), x=np.stack(list(have.values())))
    np.savez(f, keys=np.array(list(have)), x=np.stack(list(have.values())))
    print(f"done: {len(have)} rows in {time.time() - t0:.0f}s", flush=True)
    return 0


def _lm_matrix(rows, feats, layers):
    idx = [LAYERS.index(x) for x in layers]
    d = next(iter(feats.values())).shape[0] // len(LAYERS)
    cols = np.concatenate([np.arange(i * d, (i + 1) * d) for i in idx])
    return np.stack([feats[_key(r)][cols] for r in rows]).astype(np.float64)


def _word_matrix(rows):
    from saess.judges.trained import features
    return np.array([features(r["prompt"], r["response"], r.get("prefill")) for r in rows], dtype=np.float64)


def _counts(pred, y):
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return dict(tp=tp, fp=fp, fn=fn, tn=tn, precision=p, recall=r, f1=f1)


def _cv(X, y, grp, l2):
    from saess.judges.trained import _best_threshold, _sigmoid, fit_logistic
    oof = np.zeros(len(y))
    for g in np.unique(grp):
        tr, te = grp != g, grp == g
        w, b, mu, sd = fit_logistic(X[tr], y[tr].astype(float), l2, iters=400, lr=0.5)
        oof[te] = _sigmoid(((X[te] - mu) / sd) @ w + b)
    t = _best_threshold(oof, y.astype(float))
    return t, _counts(oof >= t, y)


def fit(a) -> int:
    from saess.judges.trained import L2_GRID as WORD_L2
    from saess.judges.trained import _sigmoid, fit_logistic

    z = np.load(Path(a.feats) / "feats.npz")
    feats = dict(zip(z["keys"].tolist(), z["x"], strict=True))
    parts = _rows(a)
    dev_names = DEV_NAMES
    dev = [r for n in dev_names for r in parts[n]]
    grp = np.array([i for i, n in enumerate(dev_names) for _ in parts[n]])
    y = np.array([r["harmful"] for r in dev])
    check = parts["gold-check"]
    yc = np.array([r["harmful"] for r in check])
    lines = ["Development rows: " + ", ".join(f"{n} {len(parts[n])} ({sum(r['harmful'] for r in parts[n])} harmful)"
                                           for n in dev_names),
             f"Check rows: gold-check {len(check)} ({int(yc.sum())} harmful)", "",
             "Leave-one-source-out CV (F1-best threshold over the pooled out-of-fold scores):", "",
             "| features | setting | CV precision | CV recall | CV F1 | threshold |", "| --- | --- | --- | --- | --- | --- |"]
    best = {}
    Xw = _word_matrix(dev)
    for l2 in WORD_L2:
        t, c = _cv(Xw, y, grp, l2)
        lines.append(f"| 17 text features | L2 {l2:g} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.4f} | {t:.3f} |")
        print(lines[-1], flush=True)
        if "words" not in best or c["f1"] > best["words"][0]:
            best["words"] = (c["f1"], l2, t, None)
    for name, layers in LAYER_SETS.items():
        X = _lm_matrix(dev, feats, layers)
        for l2 in L2_GRID:
            t, c = _cv(X, y, grp, l2)
            lines.append(f"| LM states | layers {name}, L2 {l2:g} | {c['precision']:.3f} | {c['recall']:.3f} | "
                         f"{c['f1']:.4f} | {t:.3f} |")
            print(lines[-1], flush=True)
            if "lm" not in best or c["f1"] > best["lm"][0]:
                best["lm"] = (c["f1"], l2, t, name)
    gain = best["lm"][0] - best["words"][0]
    lines += ["", f"Best: 17 text features CV F1 {best['words'][0]:.4f} (L2 {best['words'][1]:g}); LM states "
              f"{best['lm'][0]:.4f} (layers {best['lm'][3]}, L2 {best['lm'][1]:g}): gain {gain:+.4f} -> "
              + ("worth building (>= 0.03)" if gain >= 0.03 else "not worth building (< 0.03)"), "",
              "Check split, scored after the choice (each judge fitted on all development rows, its CV threshold):", "",
              "| judge | n | precision | recall | tp/fp/tn/fn |", "| --- | --- | --- | --- | --- |"]
    for kind in ("words", "lm"):
        f1, l2, t, name = best[kind]
        if kind == "words":
            X, Xc = Xw, _word_matrix(check)
        else:
            X, Xc = _lm_matrix(dev, feats, LAYER_SETS[name]), _lm_matrix(check, feats, LAYER_SETS[name])
        w, b, mu, sd = fit_logistic(X, y.astype(float), l2, iters=400, lr=0.5)
        c = _counts(_sigmoid(((Xc - mu) / sd) @ w + b) >= t, yc)
        label = "17 text features (refit on all development rows)" if kind == "words" else f"LM states ({name})"
        lines.append(f"| {label} | {len(check)} | {c['precision']:.3f} | {c['recall']:.3f} | "
                     f"{c['tp']}/{c['fp']}/{c['tn']}/{c['fn']} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("extract", "fit"):
        p = sub.add_parser(name)
        p.add_argument("--read13", default="runs/s13/read13.jsonl")
        p.add_argument("--valmal", default="runs/s14/val_mal_answers.jsonl")
        p.add_argument("--feats", default="runs/s15/harmfeats")
        p.add_argument("--out", default="runs/s15/harmfeats" if name == "extract" else None)
    sub.choices["extract"].add_argument("--batch", type=int, default=16)
    sub.choices["extract"].add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    return extract(a) if a.cmd == "extract" else fit(a)


if __name__ == "__main__":
    sys.exit(main())
