"""Standard GCG: nanoGCG (an optional dependency, imported when used) on the underlying LM."""

from __future__ import annotations

import logging
import random
import time

import numpy as np
import torch

from saess.attacks.gcg.common import (
    NANOGCG_INSTALL,
    PRESETS,
    GCGConfig,
    GCGResult,
    allowed_token_mask,
    frozen,
)
from saess.errors import SaessError


def import_nanogcg():
    """The nanoGCG module; lazy on purpose (optional: `pip install --no-deps nanogcg==0.3.0`)."""
    try:
        import nanogcg.gcg as nanogcg_gcg
    except ImportError as e:
        raise SaessError(f"the standard GCG variant needs nanoGCG, which is not installed ({e}); install it "
                         f"with `{NANOGCG_INSTALL}` (--no-deps: nanogcg 0.3.0 pins transformers<=4.47.1, "
                         "which would downgrade transformers; it works with transformers 5)") from None
    return nanogcg_gcg


def run_standard(model, goal: str, target: str, config: GCGConfig = PRESETS["cpu"],
                 allowed: torch.Tensor | None = None) -> GCGResult:
    """nanoGCG on `model.lm` (no `[CLS]`), suffix at the end of the user turn after one space.

    The init is given a leading space and placed right after the goal, so the optimised
    ids are the ids `goal + " " + suffix` tokenizes to (for byte-level BPE tokenizers).
    `allowed` (bool [V], default `allowed_token_mask`) replaces nanoGCG's own not-allowed
    list, which would let chat-template markers such as `<|im_start|>` through.
    """
    nanogcg = import_nanogcg()
    lm, tok = model.lm, model.tokenizer
    n_emb = lm.get_input_embeddings().weight.shape[0]
    if allowed is None:
        allowed = allowed_token_mask(tok, n_emb, model.config.cls_token_id)
    ncfg = nanogcg.GCGConfig(num_steps=config.num_steps, optim_str_init=" " + config.optim_str_init.lstrip(" "),
                             search_width=config.search_width, batch_size=config.batch_size, topk=config.topk,
                             n_replace=config.n_replace, early_stop=config.early_stop, use_prefix_cache=False,
                             seed=config.seed, allow_non_ascii=False, filter_ids=True, verbosity="ERROR")
    messages = model.encoder._messages(goal + "{optim_str}")
    nlog = logging.getLogger("nanogcg")
    level = nlog.level
    det = torch.are_deterministic_algorithms_enabled()
    py_state = random.getstate()
    np_state = _numpy_state()
    t0 = time.perf_counter()
    # nanoGCG seeds every global RNG and turns on deterministic algorithms: undo both after.
    # Frozen parameters: nanoGCG only needs the one-hot gradient (weight gradients cost ~10x).
    with torch.random.fork_rng(devices=[lm.device] if lm.device.type == "cuda" else []), frozen(lm):
        try:
            nlog.setLevel(logging.ERROR)
            attack = nanogcg.GCG(lm, tok, ncfg)
            attack.not_allowed_ids = (~allowed).nonzero().squeeze(1).to(lm.device)
            res = attack.run(messages, target)
        finally:
            nlog.setLevel(level)
            torch.use_deterministic_algorithms(det)
            random.setstate(py_state)
            _numpy_state(np_state)
            model._last_hidden = None  # the decoder hook fired on nanoGCG's passes
    s = res.best_string
    suffix = s[1:] if s.startswith(" ") else s
    return GCGResult(best_string=suffix, best_loss=float(res.best_loss), losses=[float(x) for x in res.losses],
                     variant="standard", best_ce=float(res.best_loss), steps=len(res.losses),
                     seconds=time.perf_counter() - t0)


def _numpy_state(state=None):
    if state is None:
        return np.random.get_state()
    np.random.set_state(state)
    return None
