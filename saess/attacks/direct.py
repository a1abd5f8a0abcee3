"""The direct attack: the benchmark prompt as is, greedy, no prefill."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from saess.attacks.base import DEFAULT_MAX_NEW_TOKENS, AttackCase, AttackCases, greedy_kwargs, normalise_rows


def direct(rows: Iterable[Any], *, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> AttackCases:
    """One greedy case per row with the prompt unchanged."""
    out = AttackCases()
    for r in normalise_rows(rows):
        out.append(AttackCase(prompt=r.prompt, prefill=None, gen_kwargs=greedy_kwargs(max_new_tokens),
                              config_name="greedy", attack="direct", row_id=r.id, source_prompt=r.prompt))
    return out
