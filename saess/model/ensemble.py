"""A seed ensemble of `[CLS]` classifiers over one frozen LM (docs/model.md, "Ensembles").

A model trained with a frozen LM (`finetune` "none": `default`'s recipe) is one classifier: a `[CLS]` embedding, a
`[CLS]`-only adapter and a head over the base model. Runs of the same recipe with other seeds are other classifiers
over the same LM. `ensemble_models([a, b, c])` builds one model that holds all of them (`SafetyConfig.members`):
every judgement (the query, each window, the recheck's look) is scored by each member and the P(malicious) used is
their mean. Nothing attends to any member's `[CLS]` (generated tokens may not read `[CLS]`: `lm_reads_cls` off), so
no token of an answer changes; the engine scores the other members in one small pass per re-evaluation step.

The decoding settings are the first member's; its thresholds do not hold for the mean (its distribution differs), so
the built model must be calibrated (`saess calibrate`) before use: `saess ensemble` says so, and records
`"calibrated": false` until then. `saess ensemble --member A --member B ... --out DIR` writes it.

`window_members` (`--window-members N`, ours): only the first N members judge the windows of the answer alone (rules
2-3); the others, query-only members, judge the views that hold the query (the query, rule 1's confirmation windows,
the recheck's looks). Members trained to read edgy-but-benign requests can then join the query judgement without
moving the window judgement (docs/model.md, "Query-only members").
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from saess.errors import ModelError
from saess.model.registry import ModelRegistry
from saess.model.safety_model import SafetyModel


def _member_state(m: SafetyModel) -> dict:
    """A one-classifier model's `[CLS]` embedding, head and `[CLS]`-only adapter tensors (all it has)."""
    return {k: v for k, v in m.safety_state().items() if k.startswith(("cls_embedding", "safety_head.", "cls_adapter."))}


def _check_window_members(window_members: int | None, n: int) -> None:
    if window_members is not None and not 1 <= window_members <= n:
        raise ModelError(f"window_members {window_members}: give 1 to {n} (the number of members)")


def ensemble_models(models: list[SafetyModel], window_members: int | None = None) -> SafetyModel:
    """A new model (on the first model's LM object) whose classifiers are each of `models`' own. Every model must be
    one classifier (members 1, no window `[CLS]`) over the same base model with a frozen LM and adapters of the same
    rank. The first model is consumed: its hooks leave the LM, which the new model owns. `window_members`: how many
    of them, from the first, judge the windows of the answer alone (None: all; `SafetyConfig.window_members`)."""
    if len(models) < 2:
        raise ModelError(f"an ensemble needs at least two models, got {len(models)}")
    _check_window_members(window_members, len(models))
    c0 = models[0].config
    for i, m in enumerate(models):
        c = m.config
        if c.finetune != "none":
            raise ModelError(f"model {i + 1} fine-tunes its LM ({c.finetune!r}); an ensemble needs a frozen LM")
        if c.members != 1 or c.window_cls:
            raise ModelError(f"model {i + 1} is not one classifier (members {c.members}, window_cls {c.window_cls})")
        if (c.base_model, c.hidden_size) != (c0.base_model, c0.hidden_size):
            raise ModelError(f"model {i + 1} sits on another base model ({c.base_model!r} vs {c0.base_model!r})")
        if (c.cls_adapter_r, c.cls_adapter_alpha) != (c0.cls_adapter_r, c0.cls_adapter_alpha):
            raise ModelError(f"model {i + 1}'s [CLS]-only adapter has rank/alpha {c.cls_adapter_r}/{c.cls_adapter_alpha}, "
                             f"the first's {c0.cls_adapter_r}/{c0.cls_adapter_alpha}")
    first = models[0]
    extra = {**c0.extra, "ensemble": {"members": [m.config.extra for m in models], "calibrated": False}}
    if window_members == len(models):
        window_members = None  # every member judges everything
    config = replace(c0, members=len(models), window_members=window_members, lm_reads_cls=False, extra=extra)
    first._hook.remove()
    if first.cls_adapter is not None:
        for h in first.cls_adapter._handles:
            h.remove()
    out = SafetyModel(first.lm, first.tokenizer, config)
    state = _member_state(first)
    for i, m in enumerate(models[1:]):
        state.update({f"members.{i}.{k}": v for k, v in _member_state(m).items()})
    out.load_safety_state(state)
    return out.to(first.device).eval()


def ensemble_folders(paths: list[str | Path], out: str | Path, registry=None,
                     window_members: int | None = None) -> Path:
    """`saess ensemble`: load each member (by name or folder), build, save, and record where each came from."""
    reg = registry or ModelRegistry()
    _check_window_members(window_members, len(paths))  # before loading any member
    model = ensemble_models([reg.load(str(p)) for p in paths], window_members=window_members)
    log = {"members": [{"model": str(p), "fingerprint": reg.fingerprint(str(p))} for p in paths],
           "note": "thresholds are the first member's and do not hold for the mean: run `saess calibrate` on it"}
    model.config.extra["ensemble"]["sources"] = log["members"]
    path = Path(model.save_pretrained(out))
    (path / "ensemble_log.json").write_text(json.dumps(log, indent=2) + "\n")
    return path
