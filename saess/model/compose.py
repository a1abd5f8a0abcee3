"""Two classifiers over one frozen LM: the query judgement of one trained model, the window judgement of another.

`compose_views(query, window)` builds a model whose judgements that read the query (step 0, rule 1, confirmation,
the recheck's look) are `query`'s `[CLS]` embedding, `[CLS]`-only adapter and head, and whose window judgements
(rules 2-3: the answer without the query) are `window`'s, through a window `[CLS]` with its own adapter
(`SafetyConfig.window_cls_adapter`; docs/model.md, "Window [CLS]"). Both must sit on the same base model with a
frozen LM (`finetune` "none") and adapters of the same rank. The decoding settings and the query threshold are the
query model's; the window threshold is the window model's (each was calibrated with its own classifier).
`saess compose --query A --window B --out DIR` writes it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from saess.errors import ModelError
from saess.model.registry import ModelRegistry
from saess.model.safety_model import SafetyModel, state_part


def _window_side(m: SafetyModel) -> dict[str, torch.Tensor]:
    """The tensors `m` judges windows with: its window `[CLS]` if it has one, else its only one."""
    st = m.safety_state()
    emb, head = (("window_cls_embedding", "window_head.") if m.config.window_cls else ("cls_embedding", "safety_head."))
    emb, head = st[emb], state_part(st, head)
    adapter = state_part(st, "window_adapter." if m.config.window_cls_adapter else "cls_adapter.")
    return {"window_cls_embedding": emb, **{f"window_head.{k}": v for k, v in head.items()},
            **{f"window_adapter.{k}": v for k, v in adapter.items()}}


def compose_views(query: SafetyModel, window: SafetyModel) -> SafetyModel:
    """A new model (on `query`'s LM object): `query`'s query judgement, `window`'s window judgement. `query` is
    consumed: its hooks leave the LM, which the new model now owns."""
    qc, wc = query.config, window.config
    for m, name in ((query, "query"), (window, "window")):
        if m.config.finetune != "none":
            raise ModelError(f"the {name} model fine-tunes its LM ({m.config.finetune!r}); composing needs a frozen LM")
        if m.cls_adapter is None:
            raise ModelError(f"the {name} model has no [CLS]-only adapter")
        if m.config.members > 1:
            raise ModelError(f"the {name} model is an ensemble of {m.config.members} classifiers; compose takes one")
    if qc.base_model != wc.base_model or qc.hidden_size != wc.hidden_size:
        raise ModelError(f"the two models sit on different base models ({qc.base_model!r} vs {wc.base_model!r})")
    if (qc.cls_adapter_r, qc.cls_adapter_alpha) != (wc.cls_adapter_r, wc.cls_adapter_alpha):  # one ClsAdapter shape
        raise ModelError(f"adapters of different rank / alpha: {qc.cls_adapter_r}/{qc.cls_adapter_alpha} vs "
                         f"{wc.cls_adapter_r}/{wc.cls_adapter_alpha}")
    wthr = wc.window_threshold if wc.window_threshold is not None else wc.threshold
    # the window model's provenance beside the query model's (whose `extra` the composed model keeps)
    extra = {**qc.extra, "composed": {"window_extra": wc.extra, "window_threshold": wthr}}
    config = replace(qc, window_cls=True, window_cls_adapter=True, window_threshold=wthr, extra=extra)
    query._hook.remove()
    for adapter in (query.cls_adapter, query.window_adapter):
        if adapter is not None:
            for h in adapter._handles:
                h.remove()
    out = SafetyModel(query.lm, query.tokenizer, config)
    q = {k: v for k, v in query.safety_state().items() if not k.startswith(("window_", "window_adapter."))}
    out.load_safety_state({**q, **_window_side(window)})
    return out.to(query.device).eval()


def compose_folders(query_path: str | Path, window_path: str | Path, out: str | Path, registry=None) -> Path:
    """`saess compose`: load both (by name or folder), compose, save, and record where each side came from."""
    reg = registry or ModelRegistry()
    q, w = reg.load(str(query_path)), reg.load(str(window_path))
    model = compose_views(q, w)
    log = {"query_model": str(query_path), "query_fingerprint": reg.fingerprint(str(query_path)),
           "window_model": str(window_path), "window_fingerprint": reg.fingerprint(str(window_path)),
           "window_threshold": model.config.window_threshold}
    model.config.extra["composed"].update({k: v for k, v in log.items() if k != "window_threshold"})
    path = Path(model.save_pretrained(out))
    (path / "compose_log.json").write_text(json.dumps(log, indent=2) + "\n")
    return path
