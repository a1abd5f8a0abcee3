"""Where a calibrated head errs on the recipe's validation split, by source and contrast category
(issue 11, session 11; validation split only, never an evaluation set).

    python docs/results/v11/val_parts.py MODEL [MODEL ...] [--out FILE.md]

Each MODEL is a calibrated folder (its own query threshold is used). Prints, per (source,
category) group of validation prompts: n and the share flagged at the model's threshold (benign:
false positives; malicious: true positives), plus the short prompts of the contrast set (parts i-j,
3-10 words) against the longer ones (parts a-h).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

from saess.data.recipes import RecipeConfig, build_recipe
from saess.errors import InputError
from saess.model.registry import ModelRegistry
from saess.stats import auroc


def contrast_parts() -> dict[str, str]:
    """prompt -> part letter of the packaged contrast set."""
    root = Path(__file__).resolve().parents[3] / "saess" / "data" / "contrast"
    out = {}
    for f in sorted(root.glob("part_*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            for k in ("benign", "harmful"):
                if r.get(k):
                    out[r[k]] = f.stem[-1]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    val = build_recipe(RecipeConfig(seed=0))["alignment_val"]
    first: dict[str, object] = {}
    for e in val:
        first.setdefault(e.prompt, e)
    parts = contrast_parts()

    def group(e) -> str:
        if e.source == "contrast":
            return f"contrast {'short (i-j)' if parts.get(e.prompt) in ('i', 'j') else 'long (a-h)'}"
        return e.source

    reg = ModelRegistry()
    lines = []
    for name in a.models:
        m = reg.load(name)
        t = float(m.config.threshold)
        prompts = []
        for p in first:
            try:
                m.encoder.encode_chat(p)
                prompts.append(p)
            except InputError:
                pass
        scores = dict(zip(prompts, m.classify(prompts, batch_size=32), strict=True))
        pos = [s for p, s in scores.items() if first[p].label == 1]
        neg = [s for p, s in scores.items() if first[p].label == 0]
        g = collections.defaultdict(list)
        for p, s in scores.items():
            g[(group(first[p]), first[p].label)].append(s >= t)
            if first[p].source == "contrast":
                g[(f"  contrast {first[p].category}", first[p].label)].append(s >= t)
        lines += [f"## {name} (threshold {t:.4f}; AUROC {auroc(pos, neg):.4f}; "
                  f"TPR {sum(s >= t for s in pos) / len(pos):.3f}, FPR {sum(s >= t for s in neg) / len(neg):.3f})", "",
                  "| group | benign n | flagged (FP) | malicious n | flagged (TP) |", "| --- | --- | --- | --- | --- |"]
        for key in sorted({k for k, _ in g}):
            b, h = g.get((key, 0), []), g.get((key, 1), [])
            fb = f"{sum(b)} ({sum(b) / len(b):.0%})" if b else "-"
            fh = f"{sum(h)} ({sum(h) / len(h):.0%})" if h else "-"
            lines.append(f"| {key} | {len(b)} | {fb} | {len(h)} | {fh} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
