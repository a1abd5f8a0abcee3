"""A `[CLS]`-only adapter: LoRA deltas that act at the `[CLS]` position and nowhere else.

Why (docs/method.md, "capacity without touching the LM"): in the labelled-text phase no
token attends to `[CLS]`, so with a frozen LM the only trainable path is the `[CLS]`
embedding and a linear head: very little capacity. This adapter adds a low-rank delta
`B @ A @ x * (alpha / r)` to the output of every linear layer of the decoder, **only on the
rows that are `[CLS]`**. Every other token's computation is exactly the base model's
(bit for bit, tested), so L_lm is unchanged by it, and at inference it costs one position
per linear layer on the steps that evaluate `[CLS]` (the hooks return at once otherwise).

The adapter hooks the decoder's linear layers through forward hooks. `SafetyModel.run`
tells it which positions are `[CLS]` (`set_positions`) before each LM pass. The hooks sit on
the original `nn.Linear` modules, so a PEFT LoRA wrapper added later (phase 2) keeps them
working: PEFT calls the original layer as its `base_layer`.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

# Canonical key of a decoder linear layer: the part of its module name from "layers." on,
# without PEFT's wrapper names, e.g. "layers.3.self_attn.q_proj".
_LAYER_KEY = re.compile(r"(layers\.\d+\..*)$")


def _canonical(name: str) -> str | None:
    name = name.replace(".base_layer", "")
    m = _LAYER_KEY.search(name)
    return m.group(1) if m else None


def decoder_linears(lm: nn.Module) -> dict[str, nn.Linear]:
    """The decoder's own linear layers by canonical key (PEFT's lora_A/lora_B excluded)."""
    found: dict[str, nn.Linear] = {}
    for name, mod in lm.named_modules():
        if not isinstance(mod, nn.Linear) or "lora_" in name:
            continue
        key = _canonical(name)
        if key is not None:
            found[key] = mod
    return found


class ClsAdapter(nn.Module):
    """LoRA pairs for each decoder linear layer, applied at `[CLS]` positions only.

    Args:
        lm: the causal LM (plain or PEFT-wrapped).
        r, alpha: rank and scale (delta = B A x * alpha / r). B starts at zero, so a fresh
            adapter changes nothing.
    Parameters are named `A.<key>` / `B.<key>` with `.` in the key replaced by `__`.
    """

    def __init__(self, lm: nn.Module, r: int = 8, alpha: float = 16.0, attach: bool = True):
        super().__init__()
        if r < 1:
            raise ValueError(f"cls adapter rank must be >= 1, got {r}")
        self.r, self.alpha, self.scale = r, alpha, alpha / r
        layers = decoder_linears(lm)
        if not layers:
            raise ValueError("no decoder linear layers found (expected module names with 'layers.N.')")
        p = next(lm.parameters())
        self.A = nn.ParameterDict()
        self.B = nn.ParameterDict()
        for key, lin in layers.items():
            k = key.replace(".", "__")
            a = torch.empty(r, lin.in_features, dtype=p.dtype, device=p.device)
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))
            self.A[k] = nn.Parameter(a)
            self.B[k] = nn.Parameter(torch.zeros(lin.out_features, r, dtype=p.dtype, device=p.device))
        self._positions: torch.Tensor | None = None
        self.enabled = True
        self._handles = []
        # adapters without hooks of their own (`attach=False`: an ensemble's other members) whose deltas this one's
        # hooks add at their own positions: one hook per linear layer however many members, and a pass where no
        # adapter has positions costs one early return per layer (SafetyModel.run sets each one's positions)
        self.others: list[ClsAdapter] = []
        if attach:
            self.attach(lm)

    def attach(self, lm: nn.Module) -> None:
        """(Re-)register the hooks on `lm`'s decoder linear layers."""
        for h in self._handles:
            h.remove()
        self._handles = []
        for key, lin in decoder_linears(lm).items():
            k = key.replace(".", "__")
            if k in self.A:
                self._handles.append(lin.register_forward_hook(self._hook(k)))

    def set_positions(self, positions: torch.Tensor | None) -> None:
        """bool [B, T]: the `[CLS]` rows of the next LM pass (None or all False: no delta)."""
        self._positions = positions if positions is not None and bool(positions.any()) else None

    def _hook(self, k: str):
        def hook(_mod, inputs, output):
            out, x = None, inputs[0]
            for ad in (self, *self.others):
                pos = ad._positions
                if pos is None or not ad.enabled:
                    continue
                if x.shape[:2] != pos.shape:
                    continue  # not a [B, T, .] activation of this pass
                a, b = ad.A[k], ad.B[k]
                delta = (x[pos].to(a.dtype) @ a.t()) @ b.t() * ad.scale  # [n, out]
                if out is None:
                    out = output.clone()
                out[pos] = out[pos] + delta.to(out.dtype)
            return out

        return hook

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
