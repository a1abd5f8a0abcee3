"""Prompt-side attacks: each turns benchmark rows into `AttackCase`s for the generation engine.

Registry: `ATTACKS` / `get_attack(name)`: direct, prefill, nested, decoding, template, pap.
GCG needs the model's gradients, so it takes the model too: `saess.attacks.gcg.gcg(rows, model, ...)`
(standard nanoGCG on the LM, or the adaptive variant whose loss also pushes `[CLS]` to benign).
"""

from saess.attacks.base import (
    DEFAULT_MAX_NEW_TOKENS,
    AttackCase,
    AttackCases,
    Row,
    broken_rows,
    case_seed,
    greedy_kwargs,
    normalise_rows,
    sample_kwargs,
)
from saess.attacks.decoding import decoding, decoding_configs
from saess.attacks.direct import direct
from saess.attacks.gcg import AdaptiveGCG, GCGConfig, GCGResult, gcg
from saess.attacks.nested import nested
from saess.attacks.pap import frame_request, pap, pap_rewrite_instruction, parse_pap_rewrite
from saess.attacks.prefill import prefill
from saess.attacks.registry import ATTACKS, get_attack
from saess.attacks.template import fill_template, template

__all__ = [
    "ATTACKS",
    "AdaptiveGCG",
    "GCGConfig",
    "GCGResult",
    "gcg",
    "DEFAULT_MAX_NEW_TOKENS",
    "AttackCase",
    "AttackCases",
    "Row",
    "broken_rows",
    "case_seed",
    "decoding",
    "decoding_configs",
    "direct",
    "fill_template",
    "frame_request",
    "get_attack",
    "greedy_kwargs",
    "nested",
    "normalise_rows",
    "pap",
    "pap_rewrite_instruction",
    "parse_pap_rewrite",
    "prefill",
    "sample_kwargs",
    "template",
]
