"""GCG settings, presets, the result record, the suffix's allowed tokens (shared by both variants)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import torch

from saess.errors import InputError

VARIANTS = ("standard", "adaptive")
DEFAULT_INIT = "x x x x x x x x x x x x x x x x x x x x"  # nanoGCG's 20-token init
NANOGCG_INSTALL = "pip install --no-deps nanogcg==0.3.0 scipy"
CACHE_FILE = "gcg_suffixes.jsonl"
BENIGN = 0  # safety-head class index of "benign" (1 is malicious)


@dataclass(frozen=True)
class GCGConfig:
    """Settings of one GCG run. The defaults are nanoGCG's (the published settings).

    num_steps: optimisation steps. search_width: candidates sampled per step. topk: the
    tokens with the most negative gradient kept per suffix position. n_replace: positions
    changed per candidate. alpha: weight of the safety-head term (adaptive only; 0 gives
    plain GCG through the SafetyModel). optim_str_init: the initial suffix. seed: RNG seed
    (None: not seeded). batch_size: candidates per forward pass (None: all at once).
    early_stop: stop when greedy decoding already yields the target (and, adaptive with
    alpha > 0, the head says benign).
    """

    num_steps: int = 250
    search_width: int = 512
    topk: int = 256
    n_replace: int = 1
    alpha: float = 1.0
    optim_str_init: str = DEFAULT_INIT
    seed: int | None = 0
    batch_size: int | None = None
    early_stop: bool = False

    def __post_init__(self):
        for name in ("num_steps", "search_width", "topk", "n_replace"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < (0 if name == "num_steps" else 1):
                raise InputError(f"GCG {name} must be a positive integer, got {getattr(self, name)!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"GCG batch_size must be >= 1 or None, got {self.batch_size!r}")
        if not math.isfinite(self.alpha) or self.alpha < 0:
            raise InputError(f"GCG alpha must be a finite number >= 0, got {self.alpha!r}")
        if not self.optim_str_init.strip():
            raise InputError("GCG optim_str_init must not be empty")


PRESETS: dict[str, GCGConfig] = {
    # The paper's / nanoGCG's settings: for an accelerator.
    "full": GCGConfig(),
    # A budget a CPU can afford on SmolLM2-135M (see docs/gcg.md for measured seconds).
    "cpu": GCGConfig(num_steps=20, search_width=64, topk=64),
}


@dataclass
class GCGResult:
    """One optimised suffix. Losses are per step (the candidate the step moved to).

    best_string: the suffix (user text, appended to the goal after one space).
    best_loss: the lowest total loss seen, the initial suffix included (adaptive) or
    nanoGCG's best (standard). ce / head: the two parts of the adaptive loss (head =
    -log P(benign), None for the standard variant). p_benign: P(benign) of the query with
    the best suffix (adaptive). seconds: wall time of the optimisation.
    """

    best_string: str
    best_loss: float
    losses: list[float]
    variant: str
    best_ids: list[int] = field(default_factory=list)
    init_loss: float | None = None
    init_ce: float | None = None
    init_head: float | None = None
    best_ce: float | None = None
    best_head: float | None = None
    p_benign: float | None = None
    ce_losses: list[float] = field(default_factory=list)
    head_losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    skipped_steps: int = 0  # steps where no candidate survived the retokenisation filter

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- candidate tokens -----------------------------------------------------------------------

def allowed_token_mask(tokenizer, num_embeddings: int, cls_token_id: int | None = None) -> torch.Tensor:
    """bool [num_embeddings]: ids a suffix may use.

    Excluded: every special or added token (`[CLS]`, BOS/EOS/PAD, chat-template markers),
    ids the tokenizer does not know, and tokens whose text is not printable ASCII (as
    nanoGCG's `allow_non_ascii=False`; this also drops partial UTF-8 byte tokens).
    """
    allowed = torch.zeros(num_embeddings, dtype=torch.bool)
    n = min(num_embeddings, len(tokenizer))
    texts = tokenizer.batch_decode([[i] for i in range(n)], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    for i, t in enumerate(texts):
        allowed[i] = bool(t) and t.isascii() and t.isprintable()
    banned = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    if cls_token_id is not None:
        banned.add(cls_token_id)
    for i in banned:
        if 0 <= i < num_embeddings:
            allowed[i] = False
    return allowed


@contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """Temporarily set requires_grad=False on every parameter of `module`."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def resolve_config(preset: str = "cpu", config: GCGConfig | None = None, **overrides) -> GCGConfig:
    """`config` if given, else the named preset; `overrides` replace single fields."""
    if config is None:
        if preset not in PRESETS:
            raise InputError(f"unknown GCG preset {preset!r}; valid: {', '.join(PRESETS)}")
        config = PRESETS[preset]
    names = {f.name for f in fields(GCGConfig)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise InputError(f"unknown GCG option(s) {', '.join(bad)}; valid: {', '.join(sorted(names))}")
    return replace(config, **overrides) if overrides else config
