"""Rates corrected for the judge's errors (Rogan-Gladen), with an interval that includes
the uncertainty of the judge's sensitivity and specificity.

A judge that calls a response "positive" (jailbroken; refused) with sensitivity Se
(P(judge + | truly +)) and specificity Sp (P(judge - | truly -)) turns a true rate pi into
an expected observed rate  p = Se * pi + (1 - Sp) * (1 - pi).  Solving for pi gives the
Rogan-Gladen (1978) estimator

    pi = (p + Sp - 1) / (Se + Sp - 1),   clipped to [0, 1],

defined when Se + Sp > 1 (a judge better than chance).

Interval: Se and Sp are themselves estimates from a labelled check set (tp, fn of the truly
positive rows; tn, fp of the truly negative ones), and p from k of n prompts. A Monte Carlo
draw takes p ~ Beta(k + 1/2, n - k + 1/2), Se ~ Beta(tp + 1/2, fn + 1/2) and
Sp ~ Beta(tn + 1/2, fp + 1/2) (Jeffreys posteriors: a parametric bootstrap that does not
collapse at 0 or n), computes pi for each draw, and reports the 2.5 and 97.5 percentiles.
Draws with Se + Sp <= 1 are dropped and counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from saess.errors import InputError


def rogan_gladen(p: float, se: float, sp: float, *, clip: bool = True) -> float:
    """The corrected rate; raises InputError when Se + Sp <= 1 (the judge says nothing)."""
    for name, v in (("observed rate", p), ("sensitivity", se), ("specificity", sp)):
        if not 0.0 <= v <= 1.0:
            raise InputError(f"{name} must be in [0, 1], got {v}")
    j = se + sp - 1.0
    if j <= 0:
        raise InputError(f"sensitivity + specificity must exceed 1 to correct a rate (got {se:.3f} + {sp:.3f})")
    pi = (p + sp - 1.0) / j
    return min(1.0, max(0.0, pi)) if clip else pi


@dataclass(frozen=True)
class JudgeAccuracy:
    """A judge's confusion counts on a labelled set, positive = the event being rated."""

    tp: int
    fn: int
    tn: int
    fp: int
    source: str = ""

    def __post_init__(self):
        for k in ("tp", "fn", "tn", "fp"):
            if getattr(self, k) < 0:
                raise InputError(f"{k} must be >= 0")
        if self.tp + self.fn == 0 or self.tn + self.fp == 0:
            raise InputError(f"{self.source or 'judge accuracy'}: needs labelled positives and negatives "
                             f"(tp+fn={self.tp + self.fn}, tn+fp={self.tn + self.fp})")

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn)

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp)

    def to_dict(self) -> dict:
        return {**asdict(self), "sensitivity": self.sensitivity, "specificity": self.specificity}


def corrected_rate(k: int, n: int, acc: JudgeAccuracy, *, draws: int = 20000, seed: int = 0,
                   level: float = 0.95) -> dict:
    """{rate (Rogan-Gladen at the point estimates), ci (Monte Carlo, see module doc), ...}.

    `rate` is None when n == 0 or Se + Sp <= 1.
    """
    if n < 0 or k < 0 or k > n:
        raise InputError(f"need 0 <= k <= n, got {k}/{n}")
    out = {"raw": (k / n) if n else None, "rate": None, "ci95": None, "sensitivity": acc.sensitivity,
           "specificity": acc.specificity, "judge_counts": {"tp": acc.tp, "fn": acc.fn, "tn": acc.tn, "fp": acc.fp},
           "source": acc.source, "dropped_draws": 0}
    if n == 0 or acc.sensitivity + acc.specificity <= 1:
        return out
    out["rate"] = rogan_gladen(k / n, acc.sensitivity, acc.specificity)
    rng = np.random.default_rng(seed)
    p = rng.beta(k + 0.5, n - k + 0.5, draws)
    se = rng.beta(acc.tp + 0.5, acc.fn + 0.5, draws)
    sp = rng.beta(acc.tn + 0.5, acc.fp + 0.5, draws)
    j = se + sp - 1.0
    ok = j > 0
    pi = np.clip((p[ok] + sp[ok] - 1.0) / j[ok], 0.0, 1.0)
    a = (1.0 - level) / 2
    out["ci95"] = [float(np.quantile(pi, a)), float(np.quantile(pi, 1 - a))]
    out["dropped_draws"] = int((~ok).sum())
    return out


MULTI_CASE_ATTACKS = ("nested", "decoding", "template", "pap")


def _basis(result: dict) -> str:
    """"prompt" for attacks with several cases per prompt (any-of-k), else "response"."""
    return "prompt" if result.get("per_config") or result["attack"] in MULTI_CASE_ATTACKS else "response"


def _pack(c: dict, basis: str) -> dict:
    return {"rate": c["rate"], "ci95": c["ci95"], "sensitivity": c["sensitivity"],
            "specificity": c["specificity"], "basis": basis, "gold": c["judge_counts"], "source": c["source"]}


def add_corrections(summary: dict, judge_name: str | None = None, accuracy: dict | None = None) -> dict:
    """Add Rogan-Gladen corrected rates next to the raw ones, in place. A model that the gold set
    covers is corrected with its own specificity (and the pooled sensitivity, see
    `saess.judges.measure.gold_accuracy`); another model with the pooled figures (`stratum`).

    Each result gets `asr_corrected` ({rate, ci95, sensitivity, specificity, basis, gold}) and
    `over_refusal_corrected` (same shape); each `over_refusal[model]` gets `corrected`.
    `accuracy` (from `saess.judges.measure.gold_accuracy`) defaults to the judge named
    `judge_name` (default `summary["judge"]`) measured on the gold check split. A judge that
    cannot be rebuilt from its name (a guard model) gets no correction and a note.
    """
    name = judge_name or summary.get("judge") or ""
    if accuracy is None:
        from saess.judges.measure import gold_accuracy_for

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

    def pick(model: str, kind: str):
        """The model's own stratum when the gold set has it, else the pooled figures."""
        own = (by_model.get(model) or {}).get(kind)
        return (own, model) if own is not None else (accuracy.get(kind), "pooled")

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
    summary["correction"] = {
        "method": "Rogan-Gladen with the judge's sensitivity/specificity on the gold check split; 95% interval "
                  "from Monte Carlo draws of the observed rate, sensitivity and specificity (Jeffreys Beta)",
        "judge": name,
        "accuracy": {k: (v.to_dict() if v else None) for k, v in accuracy.items() if k != "by_model"},
        "accuracy_by_model": {m: {k: (v.to_dict() if v else None) for k, v in d.items()} for m, d in by_model.items()},
    }
    return summary
