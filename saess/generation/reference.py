"""The cache-free definition of strategic attention, for parity tests and for reading.

`recompute` rebuilds one row of a recorded `SafeGenerator.generate(record=True)` call
as a single sequence in which every re-evaluation is an explicit `[CLS]` position
(position id 0) placed right after the token it followed, with an explicit 4D mask:

- prompt tokens: the alignment-phase mask (`[CLS]` judges query content; only response
  tokens, i.e. the prefill, attend to it);
- generated tokens: causal over all earlier non-`[CLS]` tokens, plus the *latest*
  `[CLS]` state before them;
- the re-evaluated `[CLS]` at step s: its window (rules 1-4) and itself.

One forward pass without a KV cache then gives what the cached loop should have given.
"""

from __future__ import annotations

import torch

from saess.model.masks import bool_to_float_mask, build_cls_mask


@torch.no_grad()
def recompute(model, debug: dict, row: int, signal: bool = True) -> tuple[torch.Tensor, list[float], list[int]]:
    """Returns (next-token logits per step [S, V], p_malicious per re-evaluation, steps whose token was real)."""
    batch = debug["batch"]
    dev = model.device
    P = batch.input_ids.shape[1]
    ids = batch.input_ids[row].tolist()
    pos = batch.position_ids[row].tolist()
    is_cls = [True] + [False] * (P - 1)
    slot_to_ext = list(range(P))  # cache slot -> index in the extended sequence
    valid0 = batch.valid[row]
    prompt_allowed = build_cls_mask(batch.valid[row:row + 1], (batch.content & ~batch.is_response)[row:row + 1],
                                    batch.is_response[row:row + 1] if signal else torch.zeros_like(valid0)[None],
                                    dtype=torch.float32)[0, 0] == 0
    ext_valid = valid0.tolist()
    token_ext, cls_ext = [], []
    latest_cls = 0
    evals = {e["step"]: e for e in debug["evals"]}
    next_pos = int(batch.position_ids[row, -1]) + 1
    specs = []  # (kind, data) for rows after the prompt
    for s, st in enumerate(debug["steps"], start=1):
        t = st["tokens"][row]
        tok_valid = st["valid"][row]
        ids.append(t)
        pos.append(next_pos)
        is_cls.append(False)
        i = len(ids) - 1
        slot_to_ext.append(i)
        token_ext.append(i)
        specs.append(("tok", i, latest_cls))
        ext_valid.append(tok_valid)
        next_pos += 1
        if s in evals:
            w = evals[s]["window"][row]
            keys = [slot_to_ext[k] for k in torch.nonzero(w).flatten().tolist()]
            ids.append(model.config.cls_token_id)
            pos.append(0)
            is_cls.append(True)
            j = len(ids) - 1
            cls_ext.append(j)
            specs.append(("cls", j, keys))
            ext_valid.append(True)
            latest_cls = j
    N = len(ids)
    allowed = torch.zeros(N, N, dtype=torch.bool)
    allowed[:P, :P] = prompt_allowed.cpu()
    non_cls_valid = torch.tensor([v and not c for v, c in zip(ext_valid, is_cls, strict=True)])
    for kind, i, data in specs:
        if kind == "tok":
            allowed[i, :i] = non_cls_valid[:i]
            allowed[i, i] = True
            allowed[i, data] = signal
        else:
            allowed[i, data] = True
            allowed[i, i] = True
    mask = bool_to_float_mask(allowed[None, None], model.dtype).to(dev)
    ids_t = torch.tensor([ids], device=dev)
    cls_mask = torch.tensor([is_cls], device=dev)
    logits, hidden, _ = model.run(ids_t, torch.tensor([pos], device=dev), mask, cls_mask=cls_mask)
    step_logits = logits[0, token_ext].float()
    cid = model.config.cls_token_id
    if cid < step_logits.shape[-1]:
        step_logits[:, cid] = float("-inf")
    p = model.head(hidden[0, cls_ext]).float().softmax(-1)[:, 1].tolist()
    real = [k for k, st in enumerate(debug["steps"]) if st["valid"][row]]
    return step_logits, p, real
