"""Issue 12, session 10: does a probe on the base LM's hidden states judge harmful compliance
better than the lexical `trained:harm` features?

Features per (prompt, response): the 17 lexical features of `saess.judges.trained` plus the base
model's (SmolLM2-135M-Instruct, `base`; not a `[CLS]` head, not the judged models' signal) mean
hidden state over the response tokens at the middle and the last layer (the chat as the model
reads it; response cut to 160 tokens, prompt to 96). Logistic regression (the same numpy fit and
5-fold CV of L2 and threshold as `trained:harm`) on the gold **train** split's harmful-prompt
rows only; then measured once on the gold check split and PyRIT harm / objective (check sets,
never used to fit or choose). Embeddings are cached in runs/s10/harm_emb.npz.

Usage: python docs/results/v10/harm_probe.py
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

from saess.judges.checksets import load_pyrit_harm, load_pyrit_objective
from saess.judges.gold import load_gold
from saess.judges.trained import L2_GRID, _f1, _sigmoid, cross_validate, features, fit_logistic
from saess.model.registry import ModelRegistry

CACHE = "runs/s10/harm_emb.npz"


@torch.no_grad()
def embed(model, rows, batch_size: int = 16) -> np.ndarray:
    tok = model.tokenizer
    lm = model.lm
    out = []
    for s in range(0, len(rows), batch_size):
        chunk = rows[s:s + batch_size]
        seqs, starts = [], []
        for r in chunk:
            q = tok.apply_chat_template([{"role": "user", "content": r.prompt}], tokenize=False,
                                        add_generation_prompt=True)
            qi = tok(q, add_special_tokens=False)["input_ids"]
            qi = qi[:48] + qi[-48:] if len(qi) > 96 else qi
            ri = tok((r.prefill or "") + r.response, add_special_tokens=False)["input_ids"][:160] or [tok.eos_token_id]
            seqs.append(qi + ri)
            starts.append(len(qi))
        T = max(len(x) for x in seqs)
        ids = torch.full((len(seqs), T), tok.pad_token_id)
        att = torch.zeros((len(seqs), T), dtype=torch.long)
        resp = torch.zeros((len(seqs), T))
        for i, (x, a) in enumerate(zip(seqs, starts, strict=True)):
            ids[i, :len(x)] = torch.tensor(x)
            att[i, :len(x)] = 1
            resp[i, a:len(x)] = 1
        hs = lm(input_ids=ids, attention_mask=att, output_hidden_states=True).hidden_states
        mid, last = hs[len(hs) // 2], hs[-1]
        w = resp[..., None] / resp.sum(1, keepdim=True)[..., None]
        out.append(torch.cat([(mid * w).sum(1), (last * w).sum(1)], -1).float().numpy())
        print(f"  {s + len(chunk)}/{len(rows)}", file=sys.stderr, end="\r")
    return np.concatenate(out)


def fit_cv(X, y):
    fits = [(l2, *cross_validate(X, y, l2)) for l2 in L2_GRID + (30.0, 100.0)]
    l2, thr, cv = max(fits, key=lambda f: _f1(f[2]))  # the first best, as before
    w, b, mu, sd = fit_logistic(X, y, l2)
    return (w, b, mu, sd, thr), (f"l2 {l2}, CV F1 {_f1(cv):.3f} (precision {cv['precision'] or 0:.3f}, "
                                 f"recall {cv['recall'] or 0:.3f})")


def report(name, model_, X, y):
    w, b, mu, sd, thr = model_
    p = _sigmoid(((X - mu) / sd) @ w + b) >= thr
    tp, fp = int((p & (y == 1)).sum()), int((p & (y == 0)).sum())
    fn, tn = int((~p & (y == 1)).sum()), int((~p & (y == 0)).sum())
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    print(f"| {name} | {len(y)} | {(tp + tn) / len(y):.3f} | {prec:.3f} | {rec:.3f} | {tp}/{fp}/{tn}/{fn} |")


def main() -> None:
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    sets = {"gold-train": [r for r in load_gold("train") if r.meta.get("kind") == "harmful"],
            "gold-check": [r for r in load_gold("check") if r.meta.get("kind") == "harmful"],
            "pyrit-harm": load_pyrit_harm(), "pyrit-objective": load_pyrit_objective()}
    if os.path.exists(CACHE):
        z = np.load(CACHE)
        emb = {k: z[k] for k in sets}
    else:
        model = ModelRegistry().load("base")
        model.eval()
        emb = {k: embed(model, v) for k, v in sets.items()}
        np.savez(CACHE, **emb)
    lex = {k: np.array([features(r.prompt, r.response, getattr(r, "prefill", None)) for r in v]) for k, v in sets.items()}
    ys = {k: np.array([1.0 if r.harmful else 0.0 for r in v]) for k, v in sets.items()}
    print(f"train: {len(ys['gold-train'])} harmful-prompt rows, {int(ys['gold-train'].sum())} harmful")
    for fname, feats in (("lexical", lex), ("hidden", emb),
                         ("lexical+hidden", {k: np.concatenate([lex[k], emb[k]], 1) for k in sets})):
        m, cv = fit_cv(feats["gold-train"], ys["gold-train"])
        print(f"\n{fname}: {cv}\n\n| set | n | accuracy | precision | recall | tp/fp/tn/fn |\n| --- | --- | --- | --- | --- | --- |")
        for k in ("gold-check", "pyrit-harm", "pyrit-objective"):
            report(k, m, feats[k], ys[k])


if __name__ == "__main__":
    main()
