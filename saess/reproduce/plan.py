"""What `saess reproduce` runs: scales, the model variants, and the steps in run order.

Every evaluation is a `saess eval` run (`saess.evaluation.runner.run_eval`) into its own
resumable folder under the reproduction's `--out`; this module only decides which.

A *variant* is one model under one strategic config. All variants are evaluated on the
same AdvBench rows under the same *variant attacks* (direct, prefill with the row's
target, nested, the decoding sweep) plus the benign edgy prompts for over-refusal, so
the main table, the ablations, the schedules and the hyperparameter tables read from the
same kind of run and share runs where they share a variant (`default` is in all four).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from saess.errors import InputError
from saess.generation.config import StrategicConfig


@dataclass(frozen=True)
class Scale:
    """How big each part of the reproduction is."""

    name: str
    limit: int | None  # AdvBench rows (spread evenly) for the variant runs
    harmbench_limit: int | None
    benign_limit: int | None
    max_new_tokens: int | None  # None: each attack's own (256; decoding 100)
    grid: str  # decoding sweep: small (8 configs) | full (50)
    max_templates: int  # template attack: templates per prompt
    answer_tokens: int  # budget of the base model's answers whose first N tokens are prefilled
    token_counts: tuple[int, ...]
    gcg_limit: int  # AdvBench rows attacked with GCG
    gcg_preset: str
    gcg_steps: int | None  # None: the preset's
    probe_limit: int
    probe_steps: int
    bench_tokens: int
    bench_repeats: int
    # Training budget of the models the reproduction trains (ablations); empty: the
    # default model's own recipe (TRAIN_RECIPE). `phase1_steps` replaces the recipe's epochs;
    # `phase2_steps` applies only to models that have an alignment phase.
    train_overrides: dict = field(default_factory=dict)


SCALES = {
    # Target: <= 20 minutes on 2 CPU cores. The trained ablation models get a token budget
    # unless full-budget ones exist under --train-root (then those are used). Measured with
    # limit 4 / 24 tokens / 8+8 training steps: 27.6 min beside a training job; at this scale
    # with 4 retain prompts of 32 tokens 20.7 min from a fresh state, so the retain set was cut.
    "quick": Scale("quick", limit=3, harmbench_limit=3, benign_limit=3, max_new_tokens=16, grid="small",
                   max_templates=1, answer_tokens=48, token_counts=(5, 10, 20, 40), gcg_limit=1,
                   gcg_preset="cpu", gcg_steps=2, probe_limit=3, probe_steps=8, bench_tokens=32,
                   bench_repeats=1, train_overrides=dict(phase1_steps=4, phase2_steps=4, retain_limit=2,
                                                         retain_max_new_tokens=16, harmful_completions=2,
                                                         completion_max_new_tokens=16, phase1_limit=64,
                                                         val_limit=16, val_views_limit=16)),
    # What fits a working session on 2 CPU cores (about 1.5 hours beside training jobs);
    # the committed RESULTS.md comes from it.
    "standard": Scale("standard", limit=12, harmbench_limit=12, benign_limit=12, max_new_tokens=40,
                      grid="small", max_templates=2, answer_tokens=64, token_counts=(5, 10, 20, 40),
                      gcg_limit=1, gcg_preset="cpu", gcg_steps=5, probe_limit=12, probe_steps=16,
                      bench_tokens=64, bench_repeats=2),
    # The paper's protocol: all of AdvBench and HarmBench, the full decoding grid, each
    # attack's own budget, nanoGCG's defaults. Hours on a GPU; resumable.
    "full": Scale("full", limit=None, harmbench_limit=None, benign_limit=None, max_new_tokens=None, grid="full",
                  max_templates=5, answer_tokens=128, token_counts=(5, 10, 20, 40), gcg_limit=100,
                  gcg_preset="full", gcg_steps=None, probe_limit=100, probe_steps=20, bench_tokens=128,
                  bench_repeats=3),
}

# The recipe of the committed `default` model (v15c, docs/training.md "Session 15" and "Session 16": phase 1 only,
# on queries, r1 views and response windows, including the base model's 768 harmful 128-token
# completions with windows anywhere in their first 112 tokens, with a rank-8 [CLS]-only adapter; the
# LM untouched and its generated tokens not reading [CLS]).
# Trained ablation models change one thing in it and are calibrated as `default` was (query
# threshold at FPR 0.05 on the validation split; window threshold per answer on the run's own
# base-model answers to benign validation prompts, `data/retain.jsonl`).
TRAIN_RECIPE = dict(variant="cls", phase1_views=True, harmful_completions=768, completion_max_new_tokens=128,
                    window_max_start=112, cls_adapter_r=8,
                    phase1_epochs=3, phase1_batch_size=16, phase1_head_lr=3e-3, phase2_steps=0,
                    retain_limit=560, retain_shuffle=True,
                    retain_prefer=("contrast", "edgy_handwritten", "overrefusal_train"),
                    retain_max_new_tokens=96, phase1_limit=7000, val_views_limit=300, lm_reads_cls=False)
# The paper's alignment SFT phase, added to the recipe (its lambda2 rows share one phase 1); it
# trains the LM to read [CLS], so its generated tokens do.
_PHASE2 = dict(phase2_steps=200, shared_phase1=True, lm_reads_cls=True)
TRAINED = {
    # the paper's phase-1 data: whole prompt+answer texts only, no query views or response windows
    "noviews": dict(phase1_views=False),
    # no [CLS]-only adapter: the [CLS] embedding and the linear head are all phase 1 trains
    "noadapter": dict(cls_adapter_r=0),
    # the paper's phase 1: LoRA on the LM with L_lm (on 16 positions of each benign text) + lam1 L_cls,
    # no [CLS]-only adapter; one epoch (the LM's forward cannot be memoised when the LM trains)
    "paperp1": dict(cls_adapter_r=0, phase1_finetune="lora", phase1_lm_positions=16, phase1_epochs=1),
    "phase2": dict(_PHASE2, lam2=0.5),
    "lam0.1": dict(_PHASE2, lam2=0.1),
    "lam0.01": dict(_PHASE2, lam2=0.01),
}

VARIANT_ATTACKS = ["direct", "prefill", "nested", "decoding"]
MAIN_MODELS = ["base", "sft", "aug", "default"]


_DEFAULT = StrategicConfig()


@dataclass(frozen=True)
class Variant:
    key: str
    model: str  # a model name, or "@NAME" for a model of TRAINED
    label: str
    reliance: str | None = _DEFAULT.reliance  # None: the model's own (StrategicConfig.for_model)
    schedule: str = _DEFAULT.schedule
    tau: int | None = None  # None: StrategicConfig's default
    window: int | None = None  # r1 = r2 = r3; None: StrategicConfig's defaults
    threshold: float | None = None  # None: the model's own
    high_waits_for_tau: bool | None = None  # None: the model's own
    confirm: bool | None = None  # None: the model's own (docs/generation.md, "Confirmation")
    recheck: float | None = None  # None: the model's own (docs/generation.md, "Recheck"); 0: off

    def strategic(self) -> StrategicConfig:
        """The strategic config this variant evaluates its model with."""
        kw = {"reliance": self.reliance, "schedule": self.schedule, "threshold": self.threshold,
              "high_waits_for_tau": self.high_waits_for_tau, "confirm": self.confirm, "recheck": self.recheck}
        if self.tau is not None:
            kw["tau"] = self.tau
        if self.window is not None:
            kw.update(r1=self.window, r2=self.window, r3=self.window)
        return StrategicConfig(**kw)


# The recipe's ablations without an alignment phase act as the default does (its saess_config.json: their LM
# never learned to refuse, so a refusal ends the answer), without confirmation or recheck: their limits are
# chosen per head (docs/results/v17/rule.md, docs/results/v18/rule.md), so they compare with the `noconfirm` row
# (default's head without either).
_AS_DEFAULT = {"reliance": "high", "high_waits_for_tau": True}
VARIANTS = {v.key: v for v in [
    Variant("base", "base", "base (SmolLM2-135M-Instruct)"),
    Variant("sft", "sft", "sft (plain SFT, no [CLS])"),
    Variant("aug", "aug", "aug (Qi et al. data augmentation)"),
    Variant("default", "default", "default (v15cfr2: phase 1 on views, [CLS] adapter r 8, LM not reading [CLS], "
                                  "calibrated thresholds; its own reliance: high + wait for tau, annealing, tau 2, r 10; "
                                  "confirmation below 0.95, recheck 0.1)"),
    Variant("norecheck", "default", "default without recheck (v15cf)", recheck=0.0),
    Variant("noconfirm", "default", "default without confirmation or recheck (v15c)", confirm=False, recheck=0.0),
    Variant("medium", "default", "default under the paper's reliance medium (the guide, then its LM writes on)",
            reliance="medium"),
    Variant("noviews", "@noviews", "phase 1 on whole texts only (no query views, no response windows)", **_AS_DEFAULT),
    Variant("noadapter", "@noadapter", "without the [CLS]-only adapter", **_AS_DEFAULT),
    Variant("paperp1", "@paperp1", "the paper's phase 1 (LoRA on the LM, L_lm + lam1 L_cls)", **_AS_DEFAULT),
    Variant("phase2", "@phase2", "+ the alignment SFT phase (200 steps, lambda2 0.5)"),
    Variant("first", "default", "without strategic attention (no re-evaluation: schedule first)",
            schedule="first"),
    Variant("low", "default", "without strategic decoding (reliance low)", reliance="low"),
    Variant("high", "default", "high reliance (stop on malicious)", reliance="high", high_waits_for_tau=False),
    Variant("periodic", "default", "schedule periodic", schedule="periodic"),
    Variant("every", "default", "schedule every", schedule="every"),
    Variant("tau1", "default", "tau 1", tau=1),
    Variant("tau3", "default", "tau 3", tau=3),
    Variant("r5", "default", "r 5", window=5),
    Variant("r20", "default", "r 20", window=20),
    Variant("th0.5", "default", "query threshold 0.5", threshold=0.5),
    Variant("th0.7", "default", "query threshold 0.7", threshold=0.7),
    Variant("th0.9", "default", "query threshold 0.9", threshold=0.9),
    Variant("lam0.1", "@lam0.1", "+ the alignment SFT phase, lambda2 0.1"),
    Variant("lam0.01", "@lam0.01", "+ the alignment SFT phase, lambda2 0.01"),
]}

# Tables: (row label, variant key, the value the row varies)
ABLATIONS = [("full method", "default"),
             ("w/o recheck", "norecheck"),
             ("w/o confirmation or recheck (the rows below compare with this one)", "noconfirm"),
             ("w/o response views in phase 1 (whole texts only)", "noviews"),
             ("w/o [CLS]-only adapter", "noadapter"),
             ("the paper's phase 1 (LoRA on the LM with L_lm) instead", "paperp1"),
             ("+ the alignment SFT phase (lambda2 0.5)", "phase2"),
             ("w/o strategic attention (schedule first)", "first"),
             ("w/o strategic decoding (reliance low)", "low"),
             ("the paper's reliance medium (guide, then the LM writes on)", "medium"),
             ("the paper's high reliance (stop at the first malicious window)", "high")]
SCHEDULES = [("first", "first"), ("periodic", "periodic"), ("every", "every"), ("annealing", "default")]
HYPER = {
    # default has no alignment phase; these rows add it (200 steps) with each lambda2
    "lambda2 (+ alignment SFT phase)": [("0.01", "lam0.01"), ("0.1", "lam0.1"), ("0.5", "phase2")],
    "tau": [("1", "tau1"), ("2 (default)", "default"), ("3", "tau3")],
    "r": [("5", "r5"), ("10 (default)", "default"), ("20", "r20")],
    # Not in the paper (it fixes 0.5): the decision threshold on P(malicious), the knob
    # between over-refusal and missed harm when the head ranks well but is miscalibrated.
    "query threshold": [("calibrated (default's own)", "default"), ("0.5", "th0.5"), ("0.7", "th0.7"),
                        ("0.9", "th0.9")],
}

# Step names in run order; `--only` takes a comma-separated subset of the groups.
GROUPS = ("main", "ablations", "schedules", "hyper", "probe", "gcg")


@dataclass(frozen=True)
class Step:
    key: str  # unique, also the run folder name
    group: str
    kind: str  # "variant" | "extra" | "answers" | "tokens" | "harmbench" | "bench" | "probe" | "gcg"
    variant: str | None = None
    model: str | None = None


def steps(groups: tuple[str, ...] = GROUPS) -> list[Step]:
    """Every step of the reproduction in run order (shared variant runs appear once)."""
    out: list[Step] = []
    seen: set[str] = set()

    def add(s: Step) -> None:
        if s.key not in seen and s.group in groups:
            seen.add(s.key)
            out.append(s)

    def variant(group: str, key: str) -> None:
        if f"v-{key}" not in seen and group in groups:
            seen.add(f"v-{key}")
            out.append(Step(f"v-{key}", group, "variant", variant=key))

    for m in MAIN_MODELS:
        variant("main", m)
    add(Step("answers", "main", "answers", model="base"))
    for m in MAIN_MODELS:
        add(Step(f"tokens-{m}", "main", "tokens", model=m))
    for m in MAIN_MODELS:
        add(Step(f"extra-{m}", "main", "extra", model=m))
    for m in MAIN_MODELS:
        add(Step(f"harmbench-{m}", "main", "harmbench", model=m))
    for _, k in ABLATIONS:
        variant("ablations", k)
    for _, k in SCHEDULES:
        variant("schedules", k)
    add(Step("bench", "schedules", "bench", model="default"))
    for rows in HYPER.values():
        for _, k in rows:
            variant("hyper", k)
    add(Step("probe", "probe", "probe"))
    add(Step("gcg", "gcg", "gcg"))
    return out


def parse_only(text: str | None) -> tuple[str, ...]:
    if not text:
        return GROUPS
    got = tuple(g.strip() for g in text.split(",") if g.strip())
    bad = [g for g in got if g not in GROUPS]
    if bad or not got:
        raise InputError(f"--only: unknown group(s) {', '.join(bad) or '(none)'}; valid: {', '.join(GROUPS)}")
    return got


def get_scale(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise InputError(f"unknown scale {name!r}; valid: {', '.join(SCALES)}") from None
