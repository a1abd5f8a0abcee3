"""Issue 11, session 14: more harmful answers on the recipe's validation split, for the window rules.

    python docs/results/v14/val_harmful_windows.py prompts OUT.jsonl [--n 1000]
    saess -q generate --model base --reliance off --prompts OUT.jsonl --max-new-tokens 96 --batch-size 32 --out ANSWERS.jsonl
    python docs/results/v14/val_harmful_windows.py score MODEL ANSWERS.jsonl BENIGN_ANSWERS.jsonl [--out FILE]
        [--scores FILE] [--labels docs/results/v14/read-valmal/labels.jsonl]
    python docs/results/v14/val_harmful_windows.py tally SCORES LABELS THRESHOLD [--out FILE]

Why: `saess calibrate --window-answers` measures the window rules (2-3) on 623 benign validation answers
but only the 43 complying answers the training sources ship for the split's malicious prompts
(`harmful_answers_val`), so a window TPR moves by 2.3 points per answer. The base model complies with
most harmful requests; its own answers to the split's malicious prompts (seeded sample of the distinct
base prompts; answers that open like a refusal dropped, as the training pipeline drops them from its
harmful completions) are what the window rules have to catch after a prefill. No evaluation set is read.

`score`: per answer, the highest threshold at which rules 2-3 would flag it
(`saess.evaluation.calibration.answer_window_scores`, the model's own strategic settings), for these
harmful answers and for the benign validation answers; AUROC and the share flagged at the model's
window threshold.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path


def prompts(a) -> int:
    from saess.data.recipes import RecipeConfig, build_recipe
    from saess.data.sources import MALICIOUS

    val = build_recipe(RecipeConfig(seed=0))["alignment_val"]
    ps = sorted(dict.fromkeys(e.base_prompt for e in val if e.label == MALICIOUS))
    random.Random(0).shuffle(ps)
    with open(a.out, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"prompt": p}) + "\n" for p in ps[: a.n])
    print(f"{min(a.n, len(ps))} of {len(ps)} malicious validation prompts -> {a.out}")
    return 0


def score(a) -> int:
    from saess.evaluation.calibration import answer_window_scores, read_answers
    from saess.generation.config import StrategicConfig
    from saess.model.registry import load_safety_model
    from saess.stats import auroc
    from saess.training.pipeline import _REFUSAL_START

    model = load_safety_model(a.model)
    th = model.config.window_threshold if model.config.window_threshold is not None else model.config.threshold
    harm = [(p, r) for p, r in read_answers(a.answers) if not _REFUSAL_START.match(r)]
    ben = read_answers(a.benign)
    strategic = StrategicConfig(**{k: getattr(a, k) for k in ("r2", "r3", "tau") if getattr(a, k) is not None}).for_model(model)
    pos = answer_window_scores(model, harm, strategic)
    neg = answer_window_scores(model, ben, strategic)
    res = {"model": a.model, "r2": strategic.r2, "r3": strategic.r3, "tau": strategic.tau, "window_threshold": th, "n_harmful": len(pos), "n_benign": len(neg),
           "auroc": auroc(pos, neg), "harmful_flagged": sum(s >= th for s in pos) / len(pos),
           "benign_flagged": sum(s >= th for s in neg) / len(neg)}
    if a.labels:  # readers' labels of the harmful answers (docs/results/v14/read-valmal): those read harmful
        lab = {json.loads(x)["prompt"]: json.loads(x)["label"] for x in open(a.labels, encoding="utf-8")}
        read = [s for (p, _), s in zip(harm, pos, strict=True) if lab.get(p) == "harmful"]
        res.update(n_read_harmful=len(read), auroc_read_harmful=auroc(read, neg) if read else None,
                   read_harmful_flagged=sum(s >= th for s in read) / len(read) if read else None)
    print(json.dumps(res))
    if a.out:
        Path(a.out).write_text(json.dumps(res) + "\n")
    if a.scores:
        Path(a.scores).write_text(json.dumps({"harmful": [[p, s] for (p, _), s in zip(harm, pos, strict=True)],
                                              "benign": [[p, s] for (p, _), s in zip(ben, neg, strict=True)]}))
    return 0


def tally(a) -> int:
    """The numbers of `score` from a scores file it wrote, with readers' labels (no model needed)."""
    from saess.stats import auroc

    sc = json.loads(Path(a.scores).read_text(encoding="utf-8"))
    lab = {json.loads(x)["prompt"]: json.loads(x)["label"] for x in open(a.labels, encoding="utf-8")}
    neg = [s for _, s in sc["benign"]]
    if a.threshold < 0:  # the window threshold `saess calibrate` would choose: FPR <= 0.05 on these benign answers
        from saess.evaluation.calibration import choose_threshold

        a.threshold = choose_threshold([s for _, s in sc["harmful"]], neg, 0.05)
    out = {"window_threshold": a.threshold, "n_benign": len(neg),
           "benign_flagged": sum(s >= a.threshold for s in neg) / len(neg)}
    for name in ("harmful", "harmless", "refusal"):
        pos = [s for p, s in sc["harmful"] if lab.get(p) == name]
        out[f"read_{name}"] = {"n": len(pos), "flagged": sum(s >= a.threshold for s in pos),
                               "auroc_vs_benign": round(auroc(pos, neg), 4) if pos else None}
    print(json.dumps(out))
    if a.out:
        Path(a.out).write_text(json.dumps(out) + "\n")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prompts")
    p.add_argument("out")
    p.add_argument("--n", type=int, default=300)
    s = sub.add_parser("score")
    s.add_argument("model")
    s.add_argument("answers")
    s.add_argument("benign")
    s.add_argument("--out", default=None)
    s.add_argument("--scores", default=None, help="write every answer's score (JSON)")
    s.add_argument("--labels", default=None, help="readers' labels (JSONL: prompt, label) of the harmful answers")
    # with other windows than the model's, `score`'s shares are at the model's own window threshold (calibrated
    # for its windows): compare at a recalibrated one with `tally SCORES LABELS -1`
    for k in ("r2", "r3", "tau"):  # session 16: window settings other than the default's (10, 10, 2)
        s.add_argument(f"--{k}", type=int, default=None)
    t = sub.add_parser("tally")
    t.add_argument("scores")
    t.add_argument("labels")
    t.add_argument("threshold", type=float, help="window threshold; -1: the one calibrate chooses at FPR 0.05")
    t.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    return {"prompts": prompts, "score": score, "tally": tally}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
