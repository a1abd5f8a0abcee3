"""The one name `transformers` changed under us: the KV cache argument and output field.

transformers 5.0 to 5.23 call the KV cache `past_key_values` (the forward argument and
the output field). 5.24 renamed both to `cache` and keeps `past_key_values` as a
deprecated alias (until 5.40) that logs a warning. Passing `cache=` to a 5.23 model is
worse than an error: the model takes unknown keyword arguments (`**kwargs`), ignores it
and returns no cache, so a decode loop would run every new token without its context.

So the name is read from the model's own `forward` signature, and a pass that asked for a
cache and got none raises `ModelError` instead of going on silently.
"""

from __future__ import annotations

import inspect

from saess.errors import ModelError

CACHE_NAMES = ("cache", "past_key_values")  # newest first
_by_class: dict[type, str] = {}


def _core(lm):
    """The transformers model under a PEFT wrapper (whose own forward takes **kwargs)."""
    return lm.get_base_model() if hasattr(lm, "get_base_model") else lm


def cache_kwarg(lm) -> str:
    """The name under which `lm.forward` takes the KV cache: "cache" (5.24+) or "past_key_values"."""
    core = _core(lm)
    cls = type(core)
    if cls not in _by_class:
        params = inspect.signature(core.forward).parameters
        name = next((n for n in CACHE_NAMES if n in params), None)
        if name is None:
            raise ModelError(f"{cls.__name__}.forward takes neither `cache` nor `past_key_values`; "
                             "saess cannot drive its KV cache")
        _by_class[cls] = name
    return _by_class[cls]


def cache_of(out, required: bool = False):
    """The KV cache of a model output under either name (None if it has none).

    `required=True` (the pass was run with `use_cache=True`): a missing cache raises.
    """
    keys = set(out.keys()) if hasattr(out, "keys") else set()
    for name in CACHE_NAMES:
        if name in keys:
            return out[name]
    if required:
        raise ModelError("the model returned no KV cache although use_cache=True (neither `cache` nor "
                         "`past_key_values` in its output): is this transformers release supported?")
    return None
