"""The probe study: how sure the model is about its next token at the first response steps.

For each model and attack (direct; prefill with the row's target; nested: the row's
harmful opening placed mid-response), the rows are generated greedily with the model's
own strategic config (the one `saess eval` uses) and the engine's recorded next-token
logits are read at steps 0..K-1 of the generated part: step 0 is the distribution right
after the prompt (and prefill), step k the one after the k-th generated token. Per step:

- entropy H = -sum p log p (nats) of the full next-token distribution;
- top-K sharpness: the probability mass of the K most likely tokens (K = 5).

The paper's observation: from direct to prefill to nested attacks the entropy rises and
the sharpness falls (the model is less sure what to write once harmful text is in its
context). Guide tokens inserted by strategic decoding are forced, but the distribution
recorded at those steps is still the model's own. A row that strategic decoding stops (reliance
`high`: the fixed refusal replaces the answer) has no steps after the one where it stopped: it is
counted under `refused`, and `steps` says how many steps were measured per row on average, so a
mean over steps 0..K-1 is never read as if every row had K steps.
"""

from __future__ import annotations

import math

import torch

from saess.attacks import get_attack
from saess.evaluation.benchmarks import load_benchmark
from saess.evaluation.config import EvalConfig
from saess.evaluation.runner import strategic_for
from saess.generation import SafeGenerator, SamplingConfig
from saess.runtime import resolve_device

TOP_K = 5
PROBE_ATTACKS = ("direct", "prefill:target", "nested:mid-response")


def step_stats(logits: torch.Tensor, k: int = TOP_K) -> tuple[float, float]:
    """(entropy in nats, top-k probability mass) of one next-token logit vector."""
    logp = torch.log_softmax(logits.float(), -1)
    p = logp.exp()
    ent = float(-(p * torch.where(p > 0, logp, torch.zeros_like(logp))).sum())
    top = float(p.topk(min(k, p.shape[-1])).values.sum())
    return ent, top


def probe_cases(rows: list[dict]) -> dict[str, list[tuple[str, str | None]]]:
    """(prompt, prefill) per attack for the probe, from rows with `prompt` and `target`."""
    nested = get_attack("nested")(rows, kinds=["mid-response"], openings=["overview"])
    return {
        "direct": [(r["prompt"], None) for r in rows],
        "prefill:target": [(r["prompt"], r["target"]) for r in rows if r.get("target")],
        "nested:mid-response": [(c.prompt, c.prefill) for c in nested],
    }


@torch.no_grad()
def probe_model(model, strategic, cases: dict[str, list[tuple[str, str | None]]], steps: int,
                batch_size: int = 8) -> dict:
    """Per attack: mean (and per-row) entropy and top-K mass at each of the first `steps` steps."""
    gen = SafeGenerator(model, strategic)
    sp = SamplingConfig(max_new_tokens=steps)
    out = {}
    for attack, items in cases.items():
        ent_rows, top_rows, guided, refused = [], [], 0, 0
        for i in range(0, len(items), batch_size):
            chunk = items[i:i + batch_size]
            res = gen.generate([p for p, _ in chunk], [f for _, f in chunk], sp, record=True)
            dbg = res[0].debug
            for b, r in enumerate(res):
                seq = [dbg["first_logits"][b]]
                for st in dbg["steps"][: steps - 1]:
                    if not st["valid"][b]:
                        break
                    seq.append(st["logits"][b])
                ents, tops = [], []
                for lg in seq:  # the engine's logits, `[CLS]` already excluded
                    e, t = step_stats(lg)
                    ents.append(round(e, 5))
                    tops.append(round(t, 5))
                ent_rows.append(ents)
                top_rows.append(tops)
                guided += int(any("inserted_guide_at" in t for t in r.trace))
                refused += int(r.finish_reason == "refused")
        out[attack] = {"n": len(ent_rows), "guided": guided, "refused": refused,
                       "steps": round(sum(map(len, ent_rows)) / max(len(ent_rows), 1), 2),
                       "entropy": _mean_by_step(ent_rows, steps),
                       "top_k_mass": _mean_by_step(top_rows, steps), "rows_entropy": ent_rows,
                       "rows_top_k_mass": top_rows}
    return out


def _mean_by_step(rows: list[list[float]], steps: int) -> list[float | None]:
    out = []
    for k in range(steps):
        vals = [r[k] for r in rows if len(r) > k and not math.isnan(r[k])]
        out.append(round(sum(vals) / len(vals), 5) if vals else None)
    return out


def run_probe(rep, models: list[str]) -> dict:
    """The probe study for `models` (a `Reproduction` supplies the rows, scale and model registry)."""
    src = rep.src("advbench")
    rows = load_benchmark(src.get("benchmark"), src.get("prompts"), rep.scale.probe_limit).rows
    cases = probe_cases(rows)
    res = {"top_k": TOP_K, "steps": rep.scale.probe_steps, "rows": len(rows), "models": {}}
    cfg = EvalConfig(models=models, attacks=["direct"])
    for name in models:
        model = rep.registry.load(name, dtype=rep.dtype, device=resolve_device(rep.device))
        strat = strategic_for(name, model, cfg)
        res["models"][name] = {"reliance": strat.reliance,
                               "attacks": probe_model(model, strat, cases, rep.scale.probe_steps, rep.batch_size)}
        del model
    return res
