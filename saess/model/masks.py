"""4D attention masks for a sequence whose index 0 is `[CLS]` (docs/method.md section 2).

Every mask here is a float mask of shape [batch, 1, query_len, key_len] holding 0 where
attention is allowed and `finfo(dtype).min` where it is not. Float (not boolean) masks are
used because `transformers` passes a 4D mask through unchanged to both the `eager` and
`sdpa` kernels, and boolean masks were seen to behave differently under `eager`.

All rules are expressed with two per-token flags:
- `cls_sees[b, j]`: `[CLS]` attends to token j (the phase decides: all content in the
  labelled-text phase, query content in the alignment phase, a window while generating);
- `sees_cls[b, i]`: token i attends to `[CLS]` (never in the labelled-text phase, response
  tokens in the alignment phase and while generating).
Every other token keeps plain causal attention over valid (non-pad) tokens.
"""

from __future__ import annotations

import torch


def build_cls_mask(
    valid: torch.Tensor,
    cls_sees: torch.Tensor,
    sees_cls: torch.Tensor,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Full-sequence mask for a forward pass without cache.

    Args:
        valid: bool [B, T], False on padding. Index 0 is `[CLS]`.
        cls_sees: bool [B, T], keys that `[CLS]` (query row 0) attends to, besides itself.
        sees_cls: bool [B, T], query rows that attend to `[CLS]` (key column 0).
    Returns:
        float [B, 1, T, T]: 0 where allowed, finfo(dtype).min where masked.
    """
    B, T = valid.shape
    dev = valid.device
    causal = torch.ones(T, T, dtype=torch.bool, device=dev).tril()
    allowed = causal[None] & valid[:, None, :] & valid[:, :, None]  # [B, T(q), T(k)]
    # Column 0 ([CLS]) is only visible to the rows that are told to see it.
    allowed[:, :, 0] = sees_cls & valid
    # Row 0 ([CLS]) sees itself and its chosen keys, including later ones (it is not causal).
    row0 = cls_sees & valid
    row0[:, 0] = True
    allowed[:, 0, :] = row0
    # A padding row must attend to something or softmax gives NaN; let it see itself.
    eye = torch.eye(T, dtype=torch.bool, device=dev)[None]
    allowed = allowed | (eye & ~valid[:, :, None])
    return bool_to_float_mask(allowed[:, None], dtype)


def bool_to_float_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """bool (True = attend) -> additive float mask of the same shape."""
    zero = torch.zeros((), dtype=dtype, device=allowed.device)
    neg = torch.full((), torch.finfo(dtype).min, dtype=dtype, device=allowed.device)
    return torch.where(allowed, zero, neg)
