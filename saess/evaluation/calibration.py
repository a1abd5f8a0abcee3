"""The head's decision threshold for a false-positive budget (`saess calibrate`).

The prompts of the training recipe's validation split (held out by prompt from training;
never an evaluation benchmark) are scored with the model's `[CLS]` head; the threshold is
the lowest whose false-positive rate there is at most `max_fpr`. `write_calibrated` writes
a copy of the model folder with that threshold in its `saess_config.json` (the generator
and `saess eval` use a model's own threshold).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

from tqdm import tqdm

from saess.data.recipes import RecipeConfig, build_recipe
from saess.errors import InputError
from saess.model.registry import ModelRegistry
from saess.model.safety_model import CONFIG_NAME
from saess.stats import auroc

logger = logging.getLogger(__name__)


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
    seed = int(((model.config.extra or {}).get("pipeline") or {}).get("seed", 0))
    val = build_recipe(RecipeConfig(seed=seed))["alignment_val"]
    by_prompt: dict[str, int] = {}
    for e in val:
        by_prompt.setdefault(e.prompt, e.label)
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


def write_calibrated(name: str, out: str | Path, max_fpr: float, batch_size: int = 16, progress: bool = True,
                     registry: ModelRegistry | None = None) -> dict:
    """Calibrate the saved model `name` (a trained name or a folder) and write the copy to `out`."""
    registry = registry or ModelRegistry()
    if not 0.0 < max_fpr < 1.0:
        raise InputError(f"--max-fpr must be in (0, 1), got {max_fpr}")
    src = registry.saved_folder(name)
    if not (src / CONFIG_NAME).exists():
        raise InputError(f"--model {name}: not a saved saess model folder (no {CONFIG_NAME} in {src})")
    out = Path(out)
    if out.resolve() == src.resolve():
        raise InputError("--out must be a new folder, not the model's own (the original stays as it is)")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out} exists and is not empty")
    model = registry.load(str(src))
    if (model.config.extra or {}).get("signal") is not True:
        raise InputError(f"--model {name}: has no trained safety signal (its head is not used), "
                         "nothing to calibrate")
    res = calibrate(model, max_fpr, batch_size, progress=progress)
    t = res["chosen"]["threshold"]
    if not 0.0 < t < 1.0:
        raise InputError(f"no threshold in (0, 1) reaches FPR <= {max_fpr} on the validation split "
                         f"(it would be {t})")
    shutil.copytree(src, out, dirs_exist_ok=True)
    cfg = json.loads((out / CONFIG_NAME).read_text())
    cfg["threshold"] = t
    # "from": the model as named on the command line (a trained name stays portable; no local path)
    cfg.setdefault("extra", {})["calibration"] = {**res, "from": name}
    (out / CONFIG_NAME).write_text(json.dumps(cfg, indent=2))
    (out / "calibration.json").write_text(json.dumps(res, indent=2) + "\n")
    logger.info("calibrated copy in %s (threshold %.4f); use it as --model %s", out, t, out)
    return res
