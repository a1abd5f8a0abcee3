"""The template attack: role-play / jailbreak templates (DAN, in-the-wild, AutoDAN-style)
with the request filled in.

Templates come from `saess.data.templates.eval_templates()`: the half of the template pool
that is never used in adversarial training (the other half is). The placeholder is the
literal text "{prompt}", replaced with `str.replace` (templates often contain other
braces). A template without the placeholder gets the request appended after a blank
line (recorded in `case.meta["appended"]`). A template object with an `apply(prompt)`
method (`saess.data.templates.Template`, which may also transform the request, e.g.
encode it) is filled with that method instead. All cases are greedy.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any

from saess.attacks.base import DEFAULT_MAX_NEW_TOKENS, AttackCase, AttackCases, greedy_kwargs, normalise_rows
from saess.data.templates import eval_templates
from saess.errors import InputError

PLACEHOLDER = "{prompt}"


def _template_parts(t: Any, i: int) -> tuple[str, str]:
    """(name, text) from a str, a mapping or an object with name/id and text/template."""
    if isinstance(t, str):
        return f"t{i}", t
    if isinstance(t, tuple) and len(t) == 2 and all(isinstance(x, str) for x in t):
        return t
    get = t.get if isinstance(t, Mapping) else (lambda k: getattr(t, k, None))
    text = next((get(k) for k in ("template", "text", "prompt") if isinstance(get(k), str)), None)
    if text is None:
        raise InputError(f"template {i}: no 'template' or 'text' string in {type(t).__name__}")
    name = next((get(k) for k in ("name", "id") if get(k) is not None), f"t{i}")
    return str(name), text


def fill_template(template: str, prompt: str) -> tuple[str, bool]:
    """The filled template and whether the prompt had to be appended (no placeholder)."""
    if PLACEHOLDER in template:
        return template.replace(PLACEHOLDER, prompt), False
    return template.rstrip() + "\n\n" + prompt, True


def load_eval_templates() -> list[Any]:
    """The held-out template half from the data package."""
    return list(eval_templates())


def template(
    rows: Iterable[Any],
    *,
    templates: Iterable[Any] | None = None,
    max_templates: int | None = None,
    seed: int = 0,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
) -> AttackCases:
    """One case per (row, template). `max_templates` draws a seeded subset of the templates."""
    items = load_eval_templates() if templates is None else list(templates)
    named = [(*_template_parts(t, i), t) for i, t in enumerate(items)]
    if not named:
        raise InputError("template attack: no templates")
    names = [n for n, _, _ in named]
    if len(set(names)) != len(names):
        raise InputError("template attack: template names are not unique")
    if max_templates is not None:
        if max_templates < 1:
            raise InputError("max_templates must be >= 1")
        if max_templates < len(named):
            keep = sorted(random.Random(seed).sample(range(len(named)), max_templates))
            named = [named[i] for i in keep]
    out = AttackCases()
    for r in normalise_rows(rows):
        for name, text, obj in named:
            meta: dict[str, Any] = {"template": name}
            for k in ("pool", "kind", "transform"):
                if not isinstance(obj, str | Mapping | tuple) and getattr(obj, k, None) is not None:
                    meta[k] = getattr(obj, k)
            apply = getattr(obj, "apply", None)
            if callable(apply) and PLACEHOLDER in text:
                filled, appended = apply(r.prompt.strip()), False
            else:
                filled, appended = fill_template(text, r.prompt.strip())
            meta["appended"] = appended
            out.append(AttackCase(prompt=filled, prefill=None, gen_kwargs=greedy_kwargs(max_new_tokens),
                                  config_name=f"template:{name}", attack="template", row_id=r.id,
                                  source_prompt=r.prompt, meta=meta))
    return out
