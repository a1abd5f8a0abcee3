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

Floor: a judge with false-positive rate 1 - Sp reports about that rate even when the true rate
is 0. When the observed rate lies below it with confidence (the 97.5th percentile of the
unclipped draws is below 0), the corrected rate is not resolvable: the judge's errors on this
model's outputs are not the ones measured on the check set, and the clipped "0.0% [0.0, 0.0]"
would claim a certainty the data do not give. Such a result carries ``below_floor: True`` (with
``floor`` = 1 - Sp) and the reports print "below the judge's floor" instead of a number.
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
           "source": acc.source, "dropped_draws": 0, "floor": 1.0 - acc.specificity, "below_floor": False}
    if n == 0 or acc.sensitivity + acc.specificity <= 1:
        return out
    out["rate"] = rogan_gladen(k / n, acc.sensitivity, acc.specificity)
    rng = np.random.default_rng(seed)
    p = rng.beta(k + 0.5, n - k + 0.5, draws)
    se = rng.beta(acc.tp + 0.5, acc.fn + 0.5, draws)
    sp = rng.beta(acc.tn + 0.5, acc.fp + 0.5, draws)
    j = se + sp - 1.0
    ok = j > 0
    raw_pi = (p[ok] + sp[ok] - 1.0) / j[ok]
    pi = np.clip(raw_pi, 0.0, 1.0)
    a = (1.0 - level) / 2
    out["ci95"] = [float(np.quantile(pi, a)), float(np.quantile(pi, 1 - a))]
    out["below_floor"] = bool(np.quantile(raw_pi, 1 - a) < 0.0)
    out["dropped_draws"] = int((~ok).sum())
    return out
