"""Issue 11, session 14: a probe on the base model's own hidden states of the query, beside the `[CLS]` head.

    python docs/results/v14/query_probe.py extract [--out runs/s14/qfeats]
    python docs/results/v14/query_probe.py fit --cls-scores runs/s14/valcat_default.json [--out FILE]

The question: the `[CLS]` head fits its training prompts to a loss of ~0.0004 and ranks the recipe's
validation split at AUROC 0.978; its errors there are plain harmful requests that share words with
benign contrast prompts ("... bomb a crowded stadium during a playoff game" at P = 0.02). A linear probe
on the frozen LM's mean-pooled hidden states over the query is the field's simplest harmfulness
classifier, costs nothing at inference (the LM computes those states while it reads the prompt), and
errs differently. Does it, alone or averaged with the head, rank the validation split better?

`extract`: 6,000 of the distinct prompts of the recipe's (seed 0) phase-2 training split (`alignment`, a
seeded sample; labels as the recipe gives them) and validation split (`alignment_val`), read by the embedded base model as a
user turn; the mean of the hidden states over the prompt's tokens (first 256) at layers 6, 12, 18, 24,
30. No evaluation set is read.

`fit`: logistic regression on the training prompts (layer set and L2 chosen by 5-fold CV AUROC on the
training prompts only), then the validation split: the probe alone, the `[CLS]` head alone (its
scores from `docs/results/v8/val_categories.py MODEL OUT.json`), and their average; AUROC and the TPR
at the threshold that keeps FPR <= 0.05 on the split (as `saess calibrate` chooses it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

LAYERS = (6, 12, 18, 24, 30)
LAYER_SETS = {"12": (12,), "18": (18,), "24": (24,), "12+18+24": (12, 18, 24), "all": LAYERS}
L2_GRID = (1.0, 10.0, 100.0)
MAX_TOKENS = 256


TRAIN_LIMIT = 6000  # a seeded sample of the training prompts (CPU budget); the validation split whole


def prompts():
    import random

    from saess.data.recipes import RecipeConfig, build_recipe

    rec = build_recipe(RecipeConfig(seed=0))
    out = {}
    for split in ("alignment", "alignment_val"):
        first = {}
        for e in rec[split]:
            first.setdefault(e.prompt, (int(e.label), e.source))
        out[split] = first
    keep = sorted(out["alignment"])
    random.Random(0).shuffle(keep)
    out["alignment"] = {p: out["alignment"][p] for p in keep[:TRAIN_LIMIT]}
    return out


def extract(a) -> int:
    import torch

    from saess.judges.checksets import sha256_text
    from saess.model.loading import load_causal_lm

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ps = prompts()
    texts = {sha256_text(p): p for split in ps.values() for p in split}
    f = out / "feats.npz"
    have = {}
    if f.exists():
        z = np.load(f)
        have = dict(zip(z["keys"].tolist(), z["x"], strict=True))
    todo = [(k, t) for k, t in texts.items() if k not in have]
    print(f"{len(texts)} distinct prompts ({', '.join(f'{s} {len(v)}' for s, v in ps.items())}), "
          f"{len(todo)} to extract", flush=True)
    model, tok = load_causal_lm("base")
    pre = tok("<|im_start|>user\n", add_special_tokens=False)["input_ids"]
    post = tok("<|im_end|>\n", add_special_tokens=False)["input_ids"]
    enc = [(k, tok(t, add_special_tokens=False)["input_ids"][:MAX_TOKENS]) for k, t in todo]
    enc.sort(key=lambda kv: len(kv[1]))
    t0 = time.time()
    for i in range(0, len(enc), a.batch):
        chunk = enc[i: i + a.batch]
        T = len(pre) + max(len(ids) for _, ids in chunk) + len(post)
        ids = torch.full((len(chunk), T), tok.pad_token_id or 0)
        att = torch.zeros((len(chunk), T), dtype=torch.long)
        inside = torch.zeros((len(chunk), T))
        for b, (_, p_ids) in enumerate(chunk):
            seq = pre + p_ids + post
            ids[b, : len(seq)] = torch.tensor(seq)
            att[b, : len(seq)] = 1
            inside[b, len(pre): len(pre) + max(1, len(p_ids))] = 1
        with torch.no_grad():
            hs = model(input_ids=ids, attention_mask=att, output_hidden_states=True).hidden_states
        w = inside / inside.sum(1, keepdim=True)
        feats = torch.cat([(hs[layer] * w[..., None]).sum(1) for layer in LAYERS], -1)
        for (k, _), x in zip(chunk, feats.numpy().astype(np.float32), strict=True):
            have[k] = x
        if (i // a.batch) % 25 == 0:
            print(f"{i + len(chunk)}/{len(enc)} {time.time() - t0:.0f}s", flush=True)
            np.savez(f, keys=np.array(list(have)), x=np.stack(list(have.values())))
    np.savez(f, keys=np.array(list(have)), x=np.stack(list(have.values())))
    print(f"done: {len(have)} rows in {time.time() - t0:.0f}s", flush=True)
    return 0


def auroc(scores, y) -> float:
    from saess.stats import auroc as _auroc

    s, y = np.asarray(scores, float), np.asarray(y, bool)
    return _auroc(s[y].tolist(), s[~y].tolist())


def tpr_at_fpr(scores, y, max_fpr=0.05):
    """(TPR, threshold, FPR) at the threshold `saess calibrate` chooses (lowest with FPR <= max_fpr)."""
    from saess.evaluation.calibration import choose_threshold

    s, y = np.asarray(scores, float), np.asarray(y, bool)
    t = choose_threshold(s[y].tolist(), s[~y].tolist(), max_fpr)
    pred = s >= t
    return float((pred & y).sum() / y.sum()), float(t), float((pred & ~y).sum() / (~y).sum())


def fit(a) -> int:
    from saess.judges.checksets import sha256_text
    from saess.judges.trained import _sigmoid, fit_logistic

    z = np.load(Path(a.feats) / "feats.npz")
    feats = dict(zip(z["keys"].tolist(), z["x"], strict=True))
    ps = prompts()
    d = z["x"].shape[1] // len(LAYERS)

    def mat(ps_, layers):
        cols = np.concatenate([np.arange(LAYERS.index(lay) * d, (LAYERS.index(lay) + 1) * d) for lay in layers])
        return np.stack([feats[sha256_text(p)][cols] for p in ps_]).astype(np.float64)

    tr_p = list(ps["alignment"])
    y_tr = np.array([ps["alignment"][p][0] for p in tr_p], float)
    va_p = list(ps["alignment_val"])
    y_va = np.array([ps["alignment_val"][p][0] for p in va_p], bool)
    rng = np.random.default_rng(0)
    fold = rng.integers(0, 5, len(tr_p))
    lines = [f"training prompts {len(tr_p)} ({int(y_tr.sum())} malicious); validation {len(va_p)} "
             f"({int(y_va.sum())} malicious)", "", "| layers | L2 | CV AUROC (training prompts) |", "| --- | --- | --- |"]
    best = None
    for name, layers in LAYER_SETS.items():
        X = mat(tr_p, layers)
        for l2 in L2_GRID:
            oof = np.zeros(len(tr_p))
            for k in range(5):
                w, b, mu, sd = fit_logistic(X[fold != k], y_tr[fold != k], l2, iters=300, lr=0.5)
                oof[fold == k] = _sigmoid(((X[fold == k] - mu) / sd) @ w + b)
            s = auroc(oof, y_tr)
            lines.append(f"| {name} | {l2:g} | {s:.4f} |")
            print(lines[-1], flush=True)
            if best is None or s > best[0]:
                best = (s, name, l2)
    _, name, l2 = best
    w, b, mu, sd = fit_logistic(mat(tr_p, LAYER_SETS[name]), y_tr, l2, iters=300, lr=0.5)
    probe = _sigmoid(((mat(va_p, LAYER_SETS[name]) - mu) / sd) @ w + b)
    lines += ["", f"chosen by CV: layers {name}, L2 {l2:g}", "",
              "| validation split | AUROC | TPR at FPR <= 0.05 | threshold |", "| --- | --- | --- | --- |"]
    rows = {"probe": probe}
    if a.cls_scores:
        cls = {o["prompt"]: o["score"] for o in json.load(open(a.cls_scores))}
        missing = [p for p in va_p if p not in cls]
        if missing:
            print(f"{len(missing)} validation prompts have no [CLS] score in {a.cls_scores}", file=sys.stderr)
            return 2
        head = np.array([cls[p] for p in va_p])
        rows.update({"[CLS] head": head, "mean of head and probe": (head + probe) / 2})
    for k, s in rows.items():
        tpr, t, fpr = tpr_at_fpr(s, y_va)
        lines.append(f"| {k} | {auroc(s, y_va):.4f} | {tpr:.3f} (FPR {fpr:.3f}) | {t:.4f} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    if a.save:
        np.savez(a.save, w=w, b=b, mu=mu, sd=sd, layers=np.array(LAYER_SETS[name]), l2=l2)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("--batch", type=int, default=16)
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--out", default="runs/s14/qfeats")
    f = sub.add_parser("fit")
    f.add_argument("--feats", default="runs/s14/qfeats")
    f.add_argument("--cls-scores", default=None)
    f.add_argument("--out", default=None)
    f.add_argument("--save", default=None)
    a = ap.parse_args(argv)
    return extract(a) if a.cmd == "extract" else fit(a)


if __name__ == "__main__":
    sys.exit(main())
