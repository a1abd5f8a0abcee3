"""Judge-corrected rates in a run's summary (raw and Rogan-Gladen corrected side by side).

The arithmetic is `saess.judges.correction`; the judge's measured sensitivity and
specificity come from `saess.judges.measure` (the gold check split). This module sits above
both, so neither imports the other's caller.
"""

from __future__ import annotations

from saess.errors import InputError
from saess.judges.correction import corrected_rate
from saess.judges.measure import gold_accuracy_for

MULTI_CASE_ATTACKS = ("nested", "decoding", "template", "pap")


def _basis(result: dict) -> str:
    """"prompt" for attacks with several cases per prompt (any-of-k), else "response"."""
    return "prompt" if result.get("per_config") or result["attack"] in MULTI_CASE_ATTACKS else "response"


def _pack(c: dict, basis: str) -> dict:
    return {"rate": c["rate"], "ci95": c["ci95"], "sensitivity": c["sensitivity"],
            "specificity": c["specificity"], "basis": basis, "gold": c["judge_counts"], "source": c["source"],
            "floor": c["floor"], "below_floor": c["below_floor"]}


def add_corrections(summary: dict, judge_name: str | None = None, accuracy: dict | None = None) -> dict:
    """Add Rogan-Gladen corrected rates next to the raw ones, in place. A model that the gold set
    covers is corrected with its own specificity (and the pooled sensitivity, see
    `saess.judges.measure.gold_accuracy`; the same saved model: the fingerprint the run recorded in
    `config.model_fingerprints`); another model with the pooled figures (`stratum`).

    Each result gets `asr_corrected` ({rate, ci95, sensitivity, specificity, basis, gold}) and
    `over_refusal_corrected` (same shape); each `over_refusal[model]` gets `corrected`.
    `accuracy` (from `saess.judges.measure.gold_accuracy`) defaults to the judge named
    `judge_name` (default `summary["judge"]`) measured on the gold check split. A judge that
    cannot be rebuilt from its name (a guard model) gets no correction and a note.
    """
    name = judge_name or summary.get("judge") or ""
    if accuracy is None:
        try:
            accuracy = gold_accuracy_for(name)
        except InputError as e:
            if "unknown judge" not in str(e):
                raise  # a bad check-set file: the caller stops with one line
            summary.setdefault("notes", []).append(
                f"No corrected rates: the judge {name!r} is not one that can be measured on the gold set here.")
            summary["correction"] = None
            return summary
    by_model = accuracy.get("by_model") or {}
    cfg = summary.get("config") or {}
    fingerprints = cfg.get("model_fingerprints") if isinstance(cfg, dict) else None
    if fingerprints is None:
        fingerprints = {}
    if not isinstance(fingerprints, dict):
        raise InputError("summary config: 'model_fingerprints' is not an object")
    unmatched = set()

    def pick(model: str, kind: str):
        """The model's own stratum when the gold set has it, else the pooled figures. Its own: the
        gold rows written by the same saved model ("model@fingerprint", the fingerprint the run
        recorded); for a model without a saved folder (`base`: no fingerprint), the rows of that name."""
        fp = fingerprints.get(model)
        key = f"{model}@{fp}" if fp else model
        own = (by_model.get(key) or {}).get(kind)
        if own is not None:
            return own, key
        if not fp and any(k.startswith(f"{model}@") for k in by_model):
            unmatched.add(model)
        return accuracy.get(kind), "pooled"

    for r in summary.get("results") or []:
        basis = _basis(r)
        acc, stratum = pick(r["model"], "asr_prompt" if basis == "prompt" else "asr_response")
        r["asr_corrected"] = ({**_pack(corrected_rate(r["successes"], r["n"], acc), basis), "stratum": stratum}
                              if acc and r["n"] else None)
    for m, o in (summary.get("over_refusal") or {}).items():
        acc, stratum = pick(m, "over_refusal")
        o["corrected"] = ({**_pack(corrected_rate(o["count"], o["n"], acc), "response"), "stratum": stratum}
                          if acc and o.get("n") else None)
    for r in summary.get("results") or []:
        o = (summary.get("over_refusal") or {}).get(r["model"])
        r["over_refusal_corrected"] = o.get("corrected") if o else None
    for model in sorted(unmatched):
        summary.setdefault("notes", []).append(
            f"Corrected rates of {model!r} use the pooled figures: the run recorded no fingerprint of the "
            "model, and the gold set's rows of that name belong to saved models identified by theirs.")
    summary["correction"] = {
        "method": "Rogan-Gladen with the judge's sensitivity/specificity on the gold check split; 95% interval "
                  "from Monte Carlo draws of the observed rate, sensitivity and specificity (Jeffreys Beta)",
        "judge": name,
        "accuracy": {k: (v.to_dict() if v else None) for k, v in accuracy.items() if k != "by_model"},
        "accuracy_by_model": {m: {k: (v.to_dict() if v else None) for k, v in d.items()} for m, d in by_model.items()},
    }
    return summary
