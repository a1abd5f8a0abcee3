"""Name -> attack function. Every attack is `fn(rows, **options) -> AttackCases`."""

from __future__ import annotations

from collections.abc import Callable

from saess.attacks.base import AttackCases
from saess.attacks.decoding import decoding
from saess.attacks.direct import direct
from saess.attacks.nested import nested
from saess.attacks.pap import pap
from saess.attacks.prefill import prefill
from saess.attacks.template import template
from saess.errors import InputError

ATTACKS: dict[str, Callable[..., AttackCases]] = {
    "direct": direct,
    "prefill": prefill,
    "nested": nested,
    "decoding": decoding,
    "template": template,
    "pap": pap,
}


def get_attack(name: str) -> Callable[..., AttackCases]:
    """The attack function called `name`; an unknown name raises InputError listing valid ones."""
    try:
        return ATTACKS[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown attack {name!r}; valid attacks: {', '.join(sorted(ATTACKS))} "
                         "(GCG is not a prompt-side attack and is not in this registry)") from None
