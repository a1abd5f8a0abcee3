"""Configs of strategic attention / strategic decoding (docs/method.md sections 4-6) and sampling."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from saess.errors import InputError

GUIDE_TEXT = "Sorry, I cannot fulfill your request because"
REFUSAL_TEXT = "Sorry, I cannot fulfill your request."
RELIANCES = ("off", "low", "medium", "high")
SCHEDULES = ("first", "periodic", "every", "annealing")


def _check_recheck(value, name: str) -> float:
    """A recheck limit (docs/generation.md, "Recheck"): a number in [0, 1], 0 = off."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InputError(f"{name} must be a number in [0, 1] (0: off), got {value!r}")
    return float(value)


def check_window_bands(value, name: str) -> tuple[tuple[float, float], ...]:
    """Window bands ((q, t), ...) (docs/generation.md, "Window bands"): q in (0, 1] strictly increasing, t in (0, 1)."""
    where = f"{name}: " if name else ""
    try:
        bands = tuple((float(q), float(t)) for q, t in value)
    except (TypeError, ValueError):
        raise InputError(f"{where}expected a list of [query bound, window threshold] pairs, got {value!r}") from None
    for q, t in bands:
        if not 0.0 < q <= 1.0 or not 0.0 < t < 1.0:
            raise InputError(f"{where}bound {q} must lie in (0, 1] and threshold {t} in (0, 1)")
    if any(b[0] <= a[0] for a, b in zip(bands, bands[1:], strict=False)):
        raise InputError(f"{where}the query bounds must increase, got {[q for q, _ in bands]}")
    return bands


def parse_window_bands(text: str) -> tuple[tuple[float, float], ...]:
    """`Q:T[,Q:T...]` (or `none`) as window bands, for the command line (`--window-bands`; errors without the name,
    which argparse adds)."""
    if text.strip().lower() in ("none", "off", ""):
        return ()
    try:  # a part without exactly one ":" fails to unpack (ValueError), as does a number that is not one
        pairs = [(float(q), float(t)) for q, t in (part.split(":") for part in text.split(","))]
    except ValueError:
        raise InputError(f"{text!r}: expected Q:T[,Q:T...] (e.g. 0.05:0.9995) or none") from None
    return check_window_bands(pairs, "")


def format_window_bands(bands) -> str:
    """The command-line form of window bands (`parse_window_bands`'s inverse)."""
    return ",".join(f"{q:g}:{t:g}" for q, t in bands) or "none"


@dataclass
class StrategicConfig:
    """How the `[CLS]` signal is used while writing.

    reliance: "low" (prediction ignored; only the attention path acts), "medium" (insert
        `guide_text` when the query is malicious, or after `tau` consecutive malicious
        re-evaluations, then let the model explain), "high" (stop with `refusal_text` the
        moment the head says malicious, as in the paper), "off" (no token attends to
        `[CLS]`: the plain language model, used for baselines without a trained signal).
        None: the model's own (`reliance` in its `saess_config.json`), else "medium".
    high_waits_for_tau: under "high", a benign-started row stops only after `tau`
        consecutive malicious re-evaluations (like "medium" inserts), not at the first.
        Not the paper's behaviour. None: the model's own (`high_waits_for_tau` in its config),
        else off. A model without the alignment phase (its LM never learned to refuse after the
        guide) ships "high" with this on: the same decisions as "medium", but a refusal ends the
        answer (docs/training.md, "Session 13").
    schedule: when `[CLS]` is re-evaluated, counted in generated tokens: "first" (only on
        the query), "periodic" (every `period` tokens), "every" (every token), "annealing"
        (gaps that start at `anneal_first_gap` and grow by `anneal_growth` until the step
        passes `anneal_stop`, after which there is no re-evaluation).
    r1, r2, r3: window sizes of rules 1-3 (paper: 10/10/10; an official script: 5/15/10).
    tau: consecutive malicious re-evaluations needed before a benign-started response is
        treated as malicious (1 <= tau <= 3 in the paper). Our default: 2.
    confirm: (ours, not the paper's) a query judged malicious is confirmed before the model
        acts on it (reliance "medium" or "high"): the row writes on, its tokens withheld from
        the output, and the first re-evaluation whose rule-1 window holds r1 response tokens
        (the query and the first r1 response tokens, judged at `threshold`) decides: malicious
        acts as the query judgement would have (medium: the guide starts the visible response,
        the withheld tokens are dropped; high: the fixed refusal), benign releases the withheld
        tokens and the row goes on as benign-started (rule 2). A row that ends before that
        re-evaluation gets the fixed refusal. None: the model's own setting (its
        `saess_config.json`, off unless set). docs/generation.md, "Confirmation".
    confirm_below: with `confirm`, only query judgements with P(malicious) below this are
        confirmed; a query the head is surer of is acted on at once. None: the model's own
        (`confirm_below` in its config), else 1.0 (every malicious query judgement waits).
    window_bands: (ours, not the paper's) the windows' threshold by the query's score: bands ((q, t), ...)
        with q increasing; a row whose query judgement P(malicious) is below q judges its response windows
        at t (the first band that holds), a row above every q at `window_threshold`. None: the model's own
        (`window_bands` in its config) unless the run sets `threshold` or `window_threshold`; (): none.
        docs/generation.md, "Window bands".
    recheck: (ours, not the paper's) a window verdict that would act (rules 2-3: `tau` agreeing
        windows, or the first under "high" without `high_waits_for_tau`) is looked at once more
        in the same re-evaluation step: `[CLS]` reads the query together with that window, and
        the row acts only when this view's P(malicious) is at least `recheck`; below it the
        trigger was false (back to rule 2). 0: off (every window verdict acts). None: the
        model's own (`recheck` in its config), else 0. docs/generation.md, "Recheck".
    lm_reads_cls: (ours; the paper: yes) whether generated tokens attend to the `[CLS]` state.
        False: the `[CLS]` state goes to the head and strategic decoding only and the language
        model computes exactly the base model's tokens (its answers change only where a rule acts).
        A model trained without the alignment phase never learned to read `[CLS]`. None: the
        model's own (`lm_reads_cls` in its config, true unless set). docs/method.md, section 2.
    """

    reliance: str | None = None
    schedule: str = "annealing"
    period: int = 10
    anneal_first_gap: int = 1
    anneal_growth: float = 1.5
    anneal_stop: int = 128
    r1: int = 10
    r2: int = 10
    r3: int = 10
    tau: int = 2
    high_waits_for_tau: bool | None = None
    threshold: float | None = None  # None: the model's own (its saess_config.json; 0.5 unless calibrated)
    # Threshold of the response windows (rules 2-3: the answer alone, judged many times per answer).
    # None: the model's own `window_threshold` when its config has one, else `threshold`.
    window_threshold: float | None = None
    confirm: bool | None = None
    confirm_below: float | None = None
    recheck: float | None = None
    window_bands: tuple[tuple[float, float], ...] | None = None
    lm_reads_cls: bool | None = None
    guide_text: str = GUIDE_TEXT
    refusal_text: str = REFUSAL_TEXT

    def __post_init__(self) -> None:
        if self.reliance is not None and self.reliance not in RELIANCES:
            raise InputError(f"reliance {self.reliance!r} is not one of {', '.join(RELIANCES)}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"schedule {self.schedule!r} is not one of {', '.join(SCHEDULES)}")
        for name in ("r1", "r2", "r3"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1 or v > 4096:
                raise InputError(f"{name} must be an integer in [1, 4096], got {v!r}")
        if not isinstance(self.tau, int) or not 1 <= self.tau <= 16:
            raise InputError(f"tau must be an integer in [1, 16], got {self.tau!r}")
        if self.high_waits_for_tau is not None and not isinstance(self.high_waits_for_tau, bool):
            raise InputError(f"high_waits_for_tau must be true or false, got {self.high_waits_for_tau!r}")
        if self.period < 1:
            raise InputError(f"period must be >= 1, got {self.period}")
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise InputError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.window_threshold is not None and not 0.0 < self.window_threshold < 1.0:
            raise InputError(f"window threshold must be in (0, 1), got {self.window_threshold}")
        if self.confirm is not None and not isinstance(self.confirm, bool):
            raise InputError(f"confirm must be true or false, got {self.confirm!r}")
        if self.lm_reads_cls is not None and not isinstance(self.lm_reads_cls, bool):
            raise InputError(f"lm_reads_cls must be true or false, got {self.lm_reads_cls!r}")
        if self.confirm_below is not None and not 0.0 < self.confirm_below <= 1.0:
            raise InputError(f"confirm_below must be in (0, 1], got {self.confirm_below}")
        if self.recheck is not None:
            _check_recheck(self.recheck, "recheck")
        if self.window_bands is not None:
            self.window_bands = check_window_bands(self.window_bands, "window_bands")
        if self.confirm and self.schedule == "first":
            raise InputError("confirm needs re-evaluations while writing: schedule 'first' has none")
        if self.anneal_growth < 1.0 or self.anneal_first_gap < 1:
            raise InputError("annealing needs anneal_first_gap >= 1 and anneal_growth >= 1")
        self._anneal_steps = self._annealing_steps()

    def for_model(self, model) -> StrategicConfig:
        """This config with None settings resolved: `threshold` to the model's own decision
        threshold, `window_threshold` to the model's own window threshold, else to `threshold`,
        `confirm` to the model's own (off unless its config sets it; never under schedule 'first'),
        `recheck` to the model's own (0, off, unless its config sets it),
        `lm_reads_cls` to the model's own (true unless its config sets it), `reliance` and
        `high_waits_for_tau` to the model's own ("medium" and off unless its config sets them)."""
        thr = self.threshold if self.threshold is not None else float(getattr(model.config, "threshold", 0.5))
        win = self.window_threshold
        if win is None:
            own = getattr(model.config, "window_threshold", None)
            win = float(own) if own is not None and self.threshold is None else thr
        confirm, below = self.confirm, self.confirm_below
        if confirm is None:
            confirm = bool(getattr(model.config, "confirm", False)) and self.schedule != "first"
        if below is None:
            own = getattr(model.config, "confirm_below", None)
            below = float(own) if own is not None else 1.0
        recheck = self.recheck
        if recheck is None:
            own = getattr(model.config, "recheck", None)
            recheck = 0.0 if own is None else _check_recheck(own, "recheck in the model's saess_config.json")
        bands = self.window_bands
        if bands is None:
            own = getattr(model.config, "window_bands", None)
            explicit = self.threshold is not None or self.window_threshold is not None
            bands = () if own is None or explicit else check_window_bands(
                own, "window_bands in the model's saess_config.json")
        reads = self.lm_reads_cls
        if reads is None:
            reads = bool(getattr(model.config, "lm_reads_cls", True))
        reliance = self.reliance if self.reliance is not None else str(getattr(model.config, "reliance", None)
                                                                        or "medium")
        waits = self.high_waits_for_tau
        if waits is None:
            waits = bool(getattr(model.config, "high_waits_for_tau", False))
        return replace(self, threshold=thr, window_threshold=win, confirm=confirm, confirm_below=below,
                       recheck=recheck, lm_reads_cls=reads, reliance=reliance, high_waits_for_tau=waits,
                       window_bands=bands)

    def window_threshold_for(self, p_query: float) -> float:
        """The threshold of a row's response windows (rules 2-3) when its query scored `p_query` (on a config
        resolved by `for_model`): the first window band whose bound lies above `p_query`, else `window_threshold`."""
        for q, t in self.window_bands or ():
            if p_query < q:
                return t
        return self.window_threshold

    def confirms(self, p_query: float) -> bool:
        """Whether a query judged malicious with P(malicious) = p_query waits for its confirmation
        (on a config resolved by `for_model`)."""
        below = 1.0 if self.confirm_below is None else self.confirm_below
        return bool(self.confirm) and self.reliance in ("medium", "high") and (below >= 1.0 or p_query < below)

    @property
    def rechecks(self) -> bool:
        """Whether window verdicts are rechecked with the query (on a config resolved by `for_model`)."""
        return bool(self.recheck) and self.reliance in ("medium", "high")

    def _annealing_steps(self) -> frozenset[int]:
        steps, gap, s = [], float(self.anneal_first_gap), 0
        while True:
            s += max(1, math.ceil(gap - 1e-9))
            if s > self.anneal_stop:
                return frozenset(steps)
            steps.append(s)
            gap *= self.anneal_growth

    def evaluates_at(self, step: int) -> bool:
        """Whether `[CLS]` is re-evaluated after generated token number `step` (1-based)."""
        if self.reliance == "off" or self.schedule == "first":
            return False
        if self.schedule == "every":
            return True
        if self.schedule == "periodic":
            return step % self.period == 0
        return step in self._anneal_steps


@dataclass
class SamplingConfig:
    """Decoding parameters (greedy unless do_sample). `seed` makes sampling repeatable."""

    max_new_tokens: int = 128
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0
    ignore_eos: bool = False  # benchmarks: always generate max_new_tokens

    def __post_init__(self) -> None:
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens <= 0:
            raise InputError(f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}")
        if self.temperature <= 0:
            raise InputError(f"temperature must be > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise InputError(f"top_k must be >= 0, got {self.top_k}")
