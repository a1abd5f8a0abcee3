"""`EvalConfig`: everything that defines an evaluation run, and the command line that makes it.

The safety signal's settings are one `StrategicConfig` (`EvalConfig.strategic`), used for
the models with a trained signal (see `saess.evaluation.runner`). A run folder records
the config's *identity* (`EvalConfig.identity`): the fields that decide whether a folder
holds the same run. The strategic settings appear there flat (`reliance`, `schedule`,
`period`, `r1`, `r2`, `r3`, `tau`, `threshold`, ...). Folders written before the
strategic config was nested recorded `tau` (None: the default) and `window` (r1 = r2 =
r3) instead; `upgrade_identity` reads them as the same run.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from saess.attacks import get_attack
from saess.errors import InputError
from saess.evaluation.benchmarks import RowSet
from saess.generation.config import StrategicConfig, format_window_bands
from saess.judges import keyword_list
from saess.runtime import DEFAULT_DTYPE

BENIGN_ATTACK = "benign"
GRIDS = ("small", "full")
_VARIANT_RE = re.compile(r"^(literal|target|tokens-[1-9]\d*)$")
STRATEGIC_FIELDS = tuple(f.name for f in dataclasses.fields(StrategicConfig))
# Strategic settings `saess eval` has a flag for (the rest are library-only).
STRATEGIC_FLAGS = ("reliance", "schedule", "period", "r1", "r2", "r3", "tau", "threshold", "window_threshold",
                   "confirm", "confirm_below", "recheck", "window_bands")


@dataclass
class EvalConfig:
    """Everything that defines an evaluation run. Fields in `IDENTITY` (and every field of
    `strategic`) decide whether an existing `--out` folder holds the same run; the others
    only change speed or place."""

    models: list[str]
    attacks: list[str]
    benchmark: str | None = None
    prompts: str | None = None
    prefill_variants: list[str] | None = None  # None: target if every row has one, else literal
    grid: str = "small"
    limit: int | None = None
    benign: str | None = None  # "edgy", a file, or None
    benign_limit: int | None = None
    max_new_tokens: int | None = None  # None: each attack's own default
    max_templates: int = 5
    # The safety signal of models with a trained one (the threshold None: each model's own).
    strategic: StrategicConfig = field(default_factory=StrategicConfig)
    seed: int = 0
    keywords: str = "gcg"
    judge_model: str | None = None  # a local causal LM folder used as a guard judge
    dtype: str = DEFAULT_DTYPE
    batch_size: int = 8
    device: str | None = None
    quiet: bool = False

    IDENTITY = ("models", "attacks", "benchmark", "prompts", "prefill_variants", "grid", "limit", "benign",
                "benign_limit", "max_new_tokens", "max_templates", "seed", "keywords", "judge_model", "dtype")

    def validate(self) -> None:
        if not self.models:
            raise InputError("no --model given")
        if len(set(self.models)) != len(self.models):
            raise InputError("a --model is given twice")
        if not self.attacks:
            raise InputError("no --attack given")
        for a in self.attacks:
            get_attack(a)  # unknown names: InputError listing the valid ones
        if len(set(self.attacks)) != len(self.attacks):
            raise InputError("an --attack is given twice")
        for v in self.prefill_variants or []:
            if not _VARIANT_RE.match(v):
                raise InputError(f"unknown prefill variant {v!r}; valid: literal, target, tokens-N (N > 0)")
        if self.prefill_variants is not None and not self.prefill_variants:
            raise InputError("--prefill-variants needs at least one variant")
        if self.grid not in GRIDS:
            raise InputError(f"unknown decoding grid {self.grid!r}; valid: {', '.join(GRIDS)}")
        for name in ("limit", "benign_limit", "max_new_tokens", "max_templates", "batch_size"):
            v = getattr(self, name)
            if v is not None and v < 1:
                flag = "--" + name.replace("_", "-")
                raise InputError(f"{flag} must be >= 1, got {v}")
        if not isinstance(self.strategic, StrategicConfig):
            raise InputError(f"strategic must be a StrategicConfig, got {type(self.strategic).__name__}")
        keyword_list(self.keywords)

    def identity(self, rows: RowSet, benign: RowSet | None, fingerprints: dict[str, str | None]) -> dict:
        d = {k: getattr(self, k) for k in self.IDENTITY}
        d.update({k: getattr(self.strategic, k) for k in STRATEGIC_FIELDS})
        d["prompts_sha256"] = rows.source.get("sha256")
        d["benign_sha256"] = benign.source.get("sha256") if benign else None
        d["model_fingerprints"] = dict(fingerprints)
        return d

    @classmethod
    def from_identity(cls, ident: dict) -> EvalConfig:
        """The config a recorded identity describes (fields it predates keep their defaults)."""
        ident = upgrade_identity(ident)
        strategic = StrategicConfig(**{k: ident[k] for k in STRATEGIC_FIELDS})
        return cls(**{k: ident[k] for k in cls.IDENTITY if k in ident}, strategic=strategic)


def upgrade_identity(ident: dict) -> dict:
    """An identity as this version writes it: legacy `tau` None / `window` read as the
    strategic fields they stood for; strategic fields it predates get their defaults."""
    d = dict(ident)
    window = d.pop("window", None)
    if window is not None:
        for k in ("r1", "r2", "r3"):
            d.setdefault(k, window)
    default = StrategicConfig()
    for k in STRATEGIC_FIELDS:
        if d.get(k) is None:
            d[k] = getattr(default, k)
    return d


def eval_command(cfg: EvalConfig, out) -> str:
    """The `saess eval` command line equivalent to an EvalConfig (for the record)."""
    parts = ["saess eval"]
    for m in cfg.models:
        parts += ["--model", m]
    parts += ["--benchmark", cfg.benchmark] if cfg.benchmark else ["--prompts", str(cfg.prompts)]
    for a in cfg.attacks:
        parts += ["--attack", a]
    if cfg.prefill_variants and "prefill" in cfg.attacks:
        parts += ["--prefill-variants", *cfg.prefill_variants]
    if "decoding" in cfg.attacks:
        parts += ["--grid", cfg.grid]
    if "template" in cfg.attacks:
        parts += ["--max-templates", str(cfg.max_templates)]
    for flag, v in (("--limit", cfg.limit), ("--max-new-tokens", cfg.max_new_tokens)):
        if v is not None:
            parts += [flag, str(v)]
    parts += ["--benign", cfg.benign or "none"]
    if cfg.benign and cfg.benign_limit:
        parts += ["--benign-limit", str(cfg.benign_limit)]
    parts += strategic_flags(cfg.strategic)
    for flag, v, default in (("--keywords", cfg.keywords, "gcg"), ("--seed", cfg.seed, 0),
                             ("--judge-model", cfg.judge_model, None), ("--dtype", cfg.dtype, DEFAULT_DTYPE)):
        if v != default:
            parts += [flag, str(v)]
    parts += ["--out", str(out)]
    cmd = " ".join(parts)
    default = StrategicConfig()
    other = [f"{k}={getattr(cfg.strategic, k)!r}" for k in STRATEGIC_FIELDS
             if k not in STRATEGIC_FLAGS and getattr(cfg.strategic, k) != getattr(default, k)]
    return cmd + (f"  # and StrategicConfig({', '.join(other)})" if other else "")


def strategic_flags(s: StrategicConfig) -> list[str]:
    """The `saess eval` flags of the strategic settings that differ from the defaults."""
    default = StrategicConfig()
    changed = {k: getattr(s, k) for k in STRATEGIC_FLAGS if getattr(s, k) != getattr(default, k)}
    windows = [changed.get(k) for k in ("r1", "r2", "r3")]
    if windows[0] is not None and windows[0] == windows[1] == windows[2]:
        for k in ("r1", "r2", "r3"):
            del changed[k]
        changed = {"window": windows[0], **changed}
    out = []
    for k, v in changed.items():
        if k == "window_bands":
            v = format_window_bands(v)
        out += [f"--{k.replace('_', '-')}", ("on" if v else "off") if isinstance(v, bool) else str(v)]
    return out
