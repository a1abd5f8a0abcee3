"""The strong-signal report: the head on every held-out prompt set, and what training cost the LM.

`saess signal-report --model M [--out F.json]` measures, on evaluation sets only (for the final
report of a model that was kept, never to choose one):
- the classifier metrics of `saess classifier-report` (AdvBench 520 + HarmBench 300 vs benign
  edgy 80 + GSM8K 100: AUROC, TPR/FPR at the model's own threshold);
- the head on XSTest v2: AUROC of the 200 contrast (unsafe) prompts against the 250 safe ones,
  and the share of each flagged;
- utility: the LM loss of M on the base model's own greedy answers to the 80 benign edgy and
  100 GSM8K prompts, against the base model's loss on them (the answers are cached in
  `$SAESS_HOME/utility/` per base model and token budget, so every model is scored on the same
  texts).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from saess.assets import saess_home
from saess.data.sources import load_source
from saess.evaluation.classifier import answer_loss, answers_read_cls, classifier_metrics
from saess.generation import SafeGenerator, SamplingConfig, StrategicConfig
from saess.model import SafetyModel
from saess.stats import auroc

logger = logging.getLogger(__name__)
UTILITY_SETS = ("overrefusal_eval", "gsm8k")


def xstest_head_metrics(model, batch_size: int = 16) -> dict:
    """The head on XSTest v2: unsafe (contrast, 200) vs safe (250) prompts."""
    unsafe = [e.prompt for e in load_source("xstest_contrast")]
    safe = [e.prompt for e in load_source("xstest_safe")]
    pu = model.classify(unsafe, batch_size=batch_size)
    ps = model.classify(safe, batch_size=batch_size)
    th = model.config.threshold
    return {"threshold": th, "auroc": auroc(pu, ps), "n_unsafe": len(pu), "n_safe": len(ps),
            "unsafe_flagged": sum(p >= th for p in pu), "safe_flagged": sum(p >= th for p in ps)}


def base_answers(base: SafetyModel, max_new_tokens: int = 64, batch_size: int = 16) -> list[tuple[str, str]]:
    """The base model's greedy answers to the utility prompts, cached per base model and budget."""
    prompts = [e.prompt for name in UTILITY_SETS for e in load_source(name)]
    key = hashlib.sha256(json.dumps([base.config.base_model, max_new_tokens, prompts]).encode()).hexdigest()[:12]
    path = Path(saess_home()) / "utility" / f"answers-{key}.jsonl"
    if path.exists():
        rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        if len(rows) == len(prompts):
            return [(r["prompt"], r["response"]) for r in rows]
    gen = SafeGenerator(base, StrategicConfig(reliance="off"))
    sp = SamplingConfig(max_new_tokens=max_new_tokens)
    out = []
    for s in range(0, len(prompts), batch_size):
        out += [(r.prompt, r.generated.strip()) for r in gen.generate(prompts[s:s + batch_size], sampling=sp)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in out))
    return out


def signal_report(model, name: str, base: SafetyModel | None = None, batch_size: int = 16,
                  answer_tokens: int = 64) -> dict:
    base = base or SafetyModel.from_base(model.config.base_model)
    pairs = base_answers(base, answer_tokens)
    trained = answer_loss(model, pairs, signal=answers_read_cls(model))  # as it generates (lm_reads_cls)
    before = answer_loss(base, pairs, signal=False)
    return {"model": name,
            "classifier": classifier_metrics(model, batch_size=batch_size),
            "xstest_head": xstest_head_metrics(model, batch_size),
            "utility_base_answers": {"n": trained["n"], "answer_tokens": answer_tokens,
                                     "lm_loss_base": before["lm_loss"], "lm_loss_model": trained["lm_loss"],
                                     "relative_change": trained["lm_loss"] / before["lm_loss"] - 1}}
