"""Attack cases: the inputs an attack gives the generation engine, one per (row, config).

A benchmark row has a `prompt` (AdvBench's `goal` is accepted as an alias), an optional
`target` (AdvBench's "Sure, here is ..." string) and an optional `harmful_answer` (a real
complying answer, for the tokens-N prefill). An attack turns each row into one or more
`AttackCase`s. A prompt counts as broken when any of its cases is judged jailbroken
(the decoding attack's rule; `broken_rows` applies it).

Generation settings (`gen_kwargs`) always carry the five keys do_sample, temperature,
top_p, top_k and max_new_tokens, so the engine never falls back on a model's own
`generation_config` defaults (Llama-2-chat's, for instance, sample at T=0.6, top-p=0.9).
Greedy cases set temperature/top_p/top_k to None (unused when do_sample is False).
`system_prompt=None` means: no system prompt (the engine must not add one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from saess.errors import InputError

DEFAULT_MAX_NEW_TOKENS = 256


@dataclass(frozen=True)
class Row:
    """One benchmark row, normalised."""

    id: str
    prompt: str
    target: str | None = None
    harmful_answer: str | None = None


@dataclass
class AttackCase:
    """One generation to run: user text, optional assistant prefill, decoding settings.

    prompt: the user turn. prefill: text the assistant turn starts with (the engine
    appends the model's continuation; the judge should get `ignore_prefix=prefill`).
    prefill_ids: the exact prefill token ids when the attack is defined in tokens
    (tokens-N); the engine should use them rather than re-tokenising `prefill`.
    config_name: e.g. "greedy", "temp=0.35", "tokens-20". attack: e.g. "decoding".
    row_id / source_prompt: the benchmark row this case came from.
    seed: a deterministic per-case seed for sampling cases (None for greedy).
    """

    prompt: str
    prefill: str | None
    gen_kwargs: dict[str, Any]
    config_name: str
    attack: str
    row_id: str
    source_prompt: str
    seed: int | None = None
    prefill_ids: tuple[int, ...] | None = None
    system_prompt: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def case_id(self) -> str:
        return f"{self.attack}/{self.row_id}/{self.config_name}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["prefill_ids"] = list(self.prefill_ids) if self.prefill_ids is not None else None
        d["case_id"] = self.case_id
        return d


class AttackCases(list):
    """A list of `AttackCase` plus `skipped` (why -> how many rows/cases were skipped)."""

    def __init__(self, cases: Iterable[AttackCase] = (), skipped: Mapping[str, int] | None = None):
        super().__init__(cases)
        self.skipped: dict[str, int] = dict(skipped or {})

    def skip(self, why: str, n: int = 1) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + n

    def extend_cases(self, other: AttackCases) -> None:
        self.extend(other)
        for k, v in other.skipped.items():
            self.skip(k, v)

    def config_names(self) -> list[str]:
        """Distinct config names in first-seen order."""
        return list(dict.fromkeys(c.config_name for c in self))

    def summary(self) -> str:
        rows = len({c.row_id for c in self})
        s = f"{len(self)} cases over {rows} rows, {len(self.config_names())} configs"
        if self.skipped:
            s += "; skipped: " + ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items()))
        return s


def greedy_kwargs(max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> dict[str, Any]:
    return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None,
            "max_new_tokens": int(max_new_tokens)}


def sample_kwargs(temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0,
                  max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> dict[str, Any]:
    """Sampling settings; top_k=0 disables top-k, top_p=1.0 disables nucleus filtering."""
    return {"do_sample": True, "temperature": float(temperature), "top_p": float(top_p),
            "top_k": int(top_k), "max_new_tokens": int(max_new_tokens)}


def case_seed(seed: int, *parts: object) -> int:
    """A deterministic 31-bit seed from a base seed and the case's identity."""
    key = "|".join([str(seed), *map(str, parts)]).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFFFFFF


def _get(row: Any, key: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(key)
    return getattr(row, key, None)


def _opt_text(v: Any, what: str, i: int) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise InputError(f"row {i}: {what} must be a string, got {type(v).__name__}")
    return v if v.strip() else None


def normalise_rows(rows: Iterable[Any]) -> list[Row]:
    """Accept strings, mappings or objects with `prompt` (or `goal`), `target`, `harmful_answer`, `id`."""
    if isinstance(rows, str | Mapping):
        raise InputError("rows must be a list of rows, not a single string or mapping")
    out: list[Row] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if isinstance(row, Row):
            r = row
        elif isinstance(row, str):
            r = Row(id=str(i), prompt=row)
        else:
            prompt = _get(row, "prompt")
            if prompt is None:
                prompt = _get(row, "goal")
            if not isinstance(prompt, str) or not prompt.strip():
                raise InputError(f"row {i}: needs a non-empty 'prompt' (or 'goal') string")
            rid = _get(row, "id")
            r = Row(id=str(rid) if rid is not None else str(i), prompt=prompt,
                    target=_opt_text(_get(row, "target"), "target", i),
                    harmful_answer=_opt_text(_get(row, "harmful_answer"), "harmful_answer", i))
        if not r.prompt.strip():
            raise InputError(f"row {i}: empty prompt")
        if r.id in seen:
            raise InputError(f"row {i}: duplicate row id {r.id!r}")
        seen.add(r.id)
        out.append(r)
    if not out:
        raise InputError("no rows given to the attack")
    return out


def broken_rows(cases: Iterable[AttackCase], jailbroken: Iterable[bool]) -> dict[str, bool]:
    """Per row id: True if any of its cases was judged jailbroken (the any-config rule)."""
    out: dict[str, bool] = {}
    for c, j in zip(cases, jailbroken, strict=True):
        out[c.row_id] = out.get(c.row_id, False) or bool(j)
    return out
