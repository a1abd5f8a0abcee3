"""Judges: decide from text alone whether an attack on a model succeeded.

- `KeywordJudge`: refusal-keyword matching (GCG / HarmBench lists).
- `ModelJudge`: a Llama-Guard-style prompt through any local causal LM.
- `measure_agreement`: the keyword judge against PyRIT's human refusal labels.
- `saess.judges.rules.RefusalRulesJudge`, `saess.judges.trained.HarmJudge` / `SafetyJudge`
  ("saess:v1"), the check sets (`saess.judges.checksets`, `saess.judges.gold`) and the judge
  table (`saess.judges.measure`): import them from their modules (docs/judges.md). They are
  not re-exported here: the gold-set tooling reads run folders (saess.evaluation), which
  imports this package.

A model's own [CLS] safety head never judges that model: judges take text, not the model
under test.
"""

from saess.judges.agreement import Agreement, load_refusal_check_set, measure_agreement
from saess.judges.base import Judge, Verdict, judge_all, strip_prefill
from saess.judges.keyword import (
    GCG_SHORT_PREFIXES,
    GCG_TEST_PREFIXES,
    KEYWORD_LISTS,
    KeywordJudge,
    harmbench_refusal_prefixes,
    keyword_list,
)
from saess.judges.model_judge import ModelJudge, build_guard_task, parse_safety_label

__all__ = [
    "Agreement",
    "GCG_SHORT_PREFIXES",
    "GCG_TEST_PREFIXES",
    "Judge",
    "KEYWORD_LISTS",
    "KeywordJudge",
    "ModelJudge",
    "Verdict",
    "build_guard_task",
    "harmbench_refusal_prefixes",
    "judge_all",
    "keyword_list",
    "load_refusal_check_set",
    "measure_agreement",
    "parse_safety_label",
    "strip_prefill",
]
