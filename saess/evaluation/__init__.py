"""Evaluation harness: attack success rate and over-refusal (`saess eval`).

- `benchmarks`: AdvBench, HarmBench (no copyright), user files; the benign edgy set.
- `runner`: rows -> attack cases -> generations -> verdicts -> sample records (resumable).
- `store`: the run folder (`config.json`, append-only `samples.jsonl`).
- `metrics`: Wilson intervals and aggregation (a prompt is broken if any case is).
- `cli`: the `saess eval` command. Reports (Markdown, HTML, PNG) are in `saess.reports`.
"""

from saess.evaluation.metrics import aggregate, attack_metrics, over_refusal, wilson_interval
from saess.evaluation.runner import EvalConfig, RunResult, run_eval

__all__ = ["EvalConfig", "RunResult", "aggregate", "attack_metrics", "over_refusal", "run_eval", "wilson_interval"]
