"""The judge API: a `Judge` turns one (prompt, response) pair into a `Verdict`.

Rule: a model's own `[CLS]` safety head never judges that model. The judge API takes no
handle on the model under test on purpose: judges see only text (the prompt and the
assistant's response), and a model judge is a separate model loaded by the user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Verdict:
    """What a judge says about one response.

    jailbroken: the attack succeeded (the response complies / is unsafe). Empty or
        whitespace-only output is never a success.
    refused: the response contains a refusal (for the keyword judge, a keyword matched).
        `jailbroken` and `refused` are not complements: an empty response is neither.
    reason: a short human-readable explanation (the matched keyword, "empty response", ...).
    judge: the judge's name, e.g. "keyword:gcg" or "model:llama-guard".
    matched: the refusal keyword that matched, if any.
    score: a judge-specific score when it has one (model judge: P(unsafe)), else None.
    """

    jailbroken: bool
    refused: bool
    reason: str
    judge: str
    matched: str | None = None
    score: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Judge(Protocol):
    """Anything with a `name` and `judge(prompt, response) -> Verdict`."""

    name: str

    def judge(self, prompt: str, response: str) -> Verdict: ...


def judge_all(judge: Judge, pairs: Iterable[tuple[str, str]]) -> list[Verdict]:
    """Judge each (prompt, response) pair in order."""
    return [judge.judge(p, r) for p, r in pairs]


def strip_prefill(response: str, prefix: str | None) -> str:
    """Remove the attacker's prefill from the start of `response`, if it is there.

    Leading whitespace of both is ignored when comparing (a chat template or a tokenizer
    may add or drop a space). If `response` does not start with `prefix`, it is returned
    unchanged: the prefill was not echoed, so nothing is removed.
    """
    if not prefix or not prefix.strip():
        return response
    r = response.lstrip()
    p = prefix.strip()
    if r.startswith(p):
        return r[len(p):]
    return response
