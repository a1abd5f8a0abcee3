"""One generation job -> sample records: generate a batch (one by one if it fails), judge, record."""

from __future__ import annotations

import logging

from saess.attacks import AttackCase
from saess.evaluation.cases import sampling_for
from saess.evaluation.store import sample_key
from saess.runtime import Outcome, batch_then_one_by_one, error_text

logger = logging.getLogger("saess")


def generate_batch(gen, batch: list[AttackCase], seed: int) -> list[Outcome]:
    """An `Outcome` (result, error, seconds) per case; one call for the batch, one by one if it fails."""
    sp = sampling_for(batch[0], seed)

    def told(e):
        logger.info("a batch of %d failed (%s); retrying one by one", len(batch), error_text(e))

    return batch_then_one_by_one(lambda cs: gen.generate([c.prompt for c in cs], [c.prefill for c in cs], sp,
                                                           prefill_ids=[c.prefill_ids for c in cs]),
                                 batch, on_batch_error=told)


def make_record(model: str, benchmark: str, label: str, case: AttackCase, strategic, seed: int | None,
                result, error: str | None, seconds: float, judges: list) -> dict:
    """One sample record; jailbroken when every judge says so (the first one fills `refused`)."""
    sp = sampling_for(case, seed or 0)
    rec = {
        "key": sample_key(model, label, case.case_id),
        "model": model,
        "benchmark": benchmark,
        "attack": label,
        "case_id": case.case_id,
        "row_id": case.row_id,
        "config_name": case.config_name,
        "prompt": case.prompt,
        "source_prompt": case.source_prompt,
        "prefill": case.prefill,
        "sampling": {"do_sample": sp.do_sample, "temperature": sp.temperature, "top_p": sp.top_p,
                     "top_k": sp.top_k, "max_new_tokens": sp.max_new_tokens, "seed": seed},
        "reliance": strategic.reliance,
        "schedule": strategic.schedule if strategic.reliance != "off" else None,
        "threshold": strategic.threshold if strategic.reliance != "off" else None,
        "window_threshold": strategic.window_threshold if strategic.reliance != "off" else None,
        **({"window_bands": [list(b) for b in strategic.window_bands]}
           if strategic.window_bands and strategic.reliance != "off" else {}),
        "gen_seconds": round(seconds, 4),
    }
    if error is not None:
        rec.update({"error": error, "response": None, "jailbroken": False, "refused": False, "verdicts": {}})
        return rec
    vs = [j.judge(case.prompt, result.response, ignore_prefix=case.prefill) for j in judges]
    v = vs[0]
    rec.update({
        "response": result.response,
        "generated": result.generated,
        "num_tokens": result.num_tokens,
        "finish_reason": result.finish_reason,
        "p_malicious_query": round(float(result.p_malicious_query), 6),
        "trace": result.trace,
        "jailbroken": all(x.jailbroken for x in vs),
        "refused": v.refused,
        "verdicts": {x.judge: x.to_dict() for x in vs},
        "error": None,
    })
    return rec
