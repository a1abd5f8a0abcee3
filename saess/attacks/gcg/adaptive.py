"""Adaptive GCG: our own GCG through the SafetyModel, loss CE(target) + alpha * -log P(benign)."""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any

import torch
import torch.nn.functional as F

from saess.attacks.gcg.common import BENIGN, PRESETS, GCGConfig, GCGResult, allowed_token_mask, frozen
from saess.errors import InputError, ModelError
from saess.model.compat import cache_kwarg
from saess.model.tokens import IGNORE, collate

logger = logging.getLogger(__name__)


def sample_candidates(ids: torch.Tensor, grad: torch.Tensor, allowed: torch.Tensor, search_width: int,
                      topk: int, n_replace: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """GCG's candidate step: random positions, each replaced by one of its top-k tokens.

    ids: long [n] current suffix. grad: [n, V] gradient of the loss w.r.t. the one-hot
    suffix. allowed: bool [V]. Returns long [search_width, n], duplicates and the current
    suffix removed (so possibly fewer rows).
    """
    n = ids.shape[0]
    grad = grad.detach().float().clone()
    grad[:, ~allowed.to(grad.device)] = float("inf")
    k = min(topk, int(allowed.sum()))
    top = (-grad).topk(k, dim=1).indices.cpu()  # [n, k]
    pos = torch.argsort(torch.rand(search_width, n, generator=generator), dim=1)[:, :n_replace]  # [W, r]
    pick = torch.randint(0, k, (search_width, n_replace, 1), generator=generator)
    vals = torch.gather(top[pos], 2, pick).squeeze(2)  # [W, r]
    cands = ids.cpu().repeat(search_width, 1).scatter_(1, pos, vals)
    cands = torch.unique(cands, dim=0)
    return cands[(cands != ids.cpu()).any(1)]


class AdaptiveGCG:
    """GCG through a SafetyModel: loss = CE(target) + alpha * -log P(benign).

    One instance per model and config (it precomputes the allowed-token mask); `run`
    optimises one suffix for one (goal, target).
    """

    def __init__(self, model, config: GCGConfig = PRESETS["cpu"], prefix_cache: bool = True):
        self.model = model
        self.config = config
        self.prefix_cache = prefix_cache  # checked against a full pass on the init suffix
        self.tok = model.tokenizer
        self.emb = model.lm.get_input_embeddings()
        self.weight = self.emb.weight
        scale = getattr(self.emb, "embed_scale", None)  # Gemma scales its embeddings
        self.scale = 1.0 if scale is None else scale
        self.allowed = allowed_token_mask(self.tok, self.weight.shape[0], model.config.cls_token_id)
        if not self.allowed.any():
            raise ModelError("no token of this tokenizer may be used in a GCG suffix")

    # --- layout -----------------------------------------------------------------------
    def _suffix_ids(self, goal: str, suffix_text: str) -> list[int] | None:
        """Ids of `suffix_text` as they appear after `goal + " "`; None if the goal's ids change."""
        enc = self.model.encoder
        goal_ids = enc.text_ids(goal)
        full = enc.text_ids(goal + " " + suffix_text)
        if full[:len(goal_ids)] != goal_ids or len(full) == len(goal_ids):
            return None
        return full[len(goal_ids):]

    def _setup(self, goal: str, target: str) -> list[int]:
        m = self.model
        enc = m.encoder
        init_ids = self._suffix_ids(goal, self.config.optim_str_init)
        if init_ids is None:
            raise InputError(f"the GCG init {self.config.optim_str_init!r} merges with the end of the goal "
                             f"when tokenized; choose another optim_str_init")
        self.goal = goal
        self.goal_ids = enc.text_ids(goal)
        seq = enc.encode_chat(goal + " " + self.config.optim_str_init, response=target, close_response=False)
        user = [i for i, (c, r) in enumerate(zip(seq.content, seq.is_response, strict=True)) if c and not r]
        if not user or user != list(range(user[0], user[-1] + 1)):
            raise ModelError("cannot locate the user text in the encoded chat")
        s1 = user[-1] + 1
        s0 = s1 - len(init_ids)
        if seq.input_ids[s0:s1] != init_ids:
            raise ModelError("the suffix tokens differ between the chat and the plain text; cannot place it")
        tgt = [i for i, lab in enumerate(seq.labels) if lab != IGNORE]
        if not tgt or tgt != list(range(tgt[0], len(seq))):
            raise InputError(f"target {target!r} gives no target tokens at the end of the sequence")
        self.s0, self.s1 = s0, s1
        batch = collate([seq], self.tok.pad_token_id).to(m.device)
        ids = batch.input_ids  # [1, T]
        mask = m.phase_mask(batch, "align")  # [1, 1, T, T]: target tokens see [CLS], [CLS] sees the query
        self.target = torch.tensor([seq.input_ids[i] for i in tgt], device=m.device)[None]  # [1, n_tgt]
        with torch.no_grad():
            base_emb = m.embed(ids)  # [1, T, H], [CLS] row from cls_embedding
        # The one-hot path must reproduce the embedding module (else gradients are wrong).
        ids_t = torch.tensor(init_ids, device=m.device)
        with torch.no_grad():
            via = self._onehot(ids_t)[0] @ self.weight * self.scale
        if not torch.allclose(base_emb[0, s0:s1].float(), via.float(), atol=1e-4, rtol=1e-3):
            raise ModelError("the input embedding is not a plain lookup table; adaptive GCG cannot take gradients")
        self._layout(base_emb, batch.position_ids, mask, n_prefix=0)
        if self.prefix_cache and s0 > 1:
            ref = self.evaluate(ids_t[None])
            self._layout(base_emb, batch.position_ids, mask, n_prefix=s0 - 1)
            got = self.evaluate(ids_t[None])
            if not all(torch.allclose(a.float(), b.float(), atol=1e-3, rtol=1e-3) for a, b in zip(ref[:2], got[:2], strict=True)):
                logger.warning("gcg: the prefix-cached loss differs from the full pass (%s vs %s); not caching",
                               got[:2], ref[:2])
                self._layout(base_emb, batch.position_ids, mask, n_prefix=0)
        return init_ids

    def _layout(self, base_emb, pos, mask, n_prefix: int) -> None:
        """Split the sequence into a cached prefix and the chunk each pass recomputes.

        Tokens 1..s0-1 (template, system prompt, goal) neither see `[CLS]` nor the suffix,
        so their keys/values are the same for every candidate: with `n_prefix = s0 - 1`
        they are computed once. `[CLS]` attends to the suffix, so it moves into the chunk:
        chunk = [CLS, suffix, rest, target], its mask the full mask with rows/columns
        permuted (RoPE positions come from `position_ids`, not from the slot order).
        """
        T = base_emb.shape[1]
        order = torch.cat([torch.arange(1, n_prefix + 1), torch.tensor([0]), torch.arange(n_prefix + 1, T)])
        order = order.to(base_emb.device)
        mask = mask[:, :, order][:, :, :, order]
        self.n_prefix = n_prefix
        self.chunk_emb = base_emb[:, order[n_prefix:]]  # [1, T - n_prefix, H]
        self.chunk_pos = pos[:, order[n_prefix:]]
        self.chunk_mask = mask[:, :, n_prefix:]  # [1, 1, T - n_prefix, T]
        self.sl = slice(self.s0 - n_prefix, self.s1 - n_prefix)  # the suffix inside the chunk
        self.cache = None
        if n_prefix:
            with torch.no_grad():
                pre = order[:n_prefix]
                out = self.model.lm(inputs_embeds=base_emb[:, pre], attention_mask=mask[:, :, :n_prefix, :n_prefix],
                                    position_ids=pos[:, pre], use_cache=True, logits_to_keep=1)
            self.model._last_hidden = None
            self.cache = getattr(out, "cache", None)
            if self.cache is None:
                self.cache = out.past_key_values

    def _onehot(self, ids: torch.Tensor) -> torch.Tensor:
        return F.one_hot(ids, self.weight.shape[0]).to(self.weight.dtype)[None]  # [1, n, V]

    # --- loss -------------------------------------------------------------------------
    def _forward(self, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Chunk embeddings [B, T', H] -> (ce [B], head [B] = -log P(benign), target matched by argmax [B])."""
        m = self.model
        B = emb.shape[0]
        n_tgt = self.target.shape[1]
        kw: dict[str, Any] = {"use_cache": False}
        if self.cache is not None:
            cache = copy.deepcopy(self.cache)  # the pass appends to it
            cache.batch_repeat_interleave(B)
            kw = {cache_kwarg(m.lm): cache, "use_cache": True}  # "cache" (5.24+) or "past_key_values"
        # Same pass as SafetyModel.run, but from inputs_embeds (the suffix rows come from a one-hot); [CLS] is slot 0
        # of the chunk, where the [CLS]-only adapter acts (the query judgement: never a window [CLS]). An ensemble
        # (docs/model.md, "Ensembles"): one pass per member, its own [CLS] row and adapter; the head term is
        # -log of the members' mean P(benign); the target loss is that of member 0's pass
        log_benign = []  # per member: log P(benign) [B]
        for k in range(m.config.members):
            with m.member(k):
                cls_emb, _, adapter = m._parts()
                emb_k = emb if k == 0 else torch.cat([cls_emb.to(emb.dtype).expand(B, 1, -1), emb[:, 1:]], dim=1)
                if k and self.cache is not None:
                    cache = copy.deepcopy(self.cache)
                    cache.batch_repeat_interleave(B)
                    kw = {cache_kwarg(m.lm): cache, "use_cache": True}
                if adapter is not None:
                    at = torch.zeros(emb.shape[:2], dtype=torch.bool, device=emb.device)
                    at[:, 0] = True
                    adapter.set_positions(at)
                try:
                    out_k = m.lm(inputs_embeds=emb_k, attention_mask=self.chunk_mask.expand(B, -1, -1, -1),
                                 position_ids=self.chunk_pos.expand(B, -1), logits_to_keep=n_tgt + 1, **kw)
                finally:
                    if adapter is not None:
                        adapter.set_positions(None)
                hidden, m._last_hidden = m._last_hidden, None  # [B, T', H]; [CLS] is slot 0 of the chunk
                log_benign.append(F.log_softmax(m.head(hidden[:, 0]).float(), dim=-1)[:, BENIGN])
            if k == 0:
                out = out_k
        logits = out.logits[:, :-1].float()  # [B, n_tgt, V]: position t-1 predicts target t
        tgt = self.target.expand(B, -1)
        ce = F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none").mean(-1)
        # -log of the members' mean P(benign); with one member exactly -log P(benign)
        head = math.log(len(log_benign)) - torch.logsumexp(torch.stack(log_benign), dim=0)
        return ce, head, (logits.argmax(-1) == tgt).all(-1)

    def token_gradient(self, ids: torch.Tensor) -> torch.Tensor:
        """Gradient of the loss w.r.t. the one-hot suffix: ids long [n] -> [n, V]."""
        onehot = self._onehot(ids).requires_grad_(True)
        suffix = onehot @ self.weight.detach() * self.scale  # [1, n, H]
        emb = torch.cat([self.chunk_emb[:, :self.sl.start], suffix, self.chunk_emb[:, self.sl.stop:]], dim=1)
        # Parameters that require grad would make backward compute their (unused) gradients
        # too: 10x the cost of the one-hot gradient on a 135M model.
        with frozen(self.model):
            ce, head, _ = self._forward(emb)
            loss = ce + self.config.alpha * head
            return torch.autograd.grad(loss.sum(), onehot)[0][0]

    @torch.no_grad()
    def evaluate(self, cands: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Candidates long [C, n] -> (ce [C], head [C], matched [C]), in batches of `batch_size`."""
        bs = self.config.batch_size or cands.shape[0]
        parts = []
        for i in range(0, cands.shape[0], bs):
            c = cands[i:i + bs].to(self.model.device)
            emb = self.chunk_emb.expand(c.shape[0], -1, -1).clone()
            emb[:, self.sl] = self.emb(c)
            parts.append(self._forward(emb))
        return tuple(torch.cat([p[j] for p in parts]).cpu() for j in range(3))

    # --- filter -----------------------------------------------------------------------
    def filter_candidates(self, cands: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        """Keep candidates that are exactly what the encoder gives for `goal + " " + suffix`.

        Returns (kept ids [C', n], their suffix strings).
        """
        goal_ids = self.goal_ids
        full = self.tok.batch_decode([goal_ids + c for c in cands.tolist()], skip_special_tokens=False,
                                     clean_up_tokenization_spaces=False)
        goal_text = self.tok.decode(goal_ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        keep, texts = [], []
        for i, (c, f) in enumerate(zip(cands.tolist(), full, strict=True)):
            if not f.startswith(goal_text + " "):
                continue
            text = f[len(goal_text) + 1:]
            if not text.strip() or self._suffix_ids(self.goal, text) != c:
                continue
            keep.append(i)
            texts.append(text)
        return cands[keep], texts

    # --- loop -------------------------------------------------------------------------
    def run(self, goal: str, target: str) -> GCGResult:
        cfg = self.config
        t0 = time.perf_counter()
        gen = torch.Generator()
        if cfg.seed is not None:
            gen.manual_seed(cfg.seed)
        else:
            gen.seed()
        cur = torch.tensor(self._setup(goal, target))
        cur_text = cfg.optim_str_init
        ce0, head0, _ = self.evaluate(cur[None])
        init_loss = float(ce0[0] + cfg.alpha * head0[0])
        best = (init_loss, cur.tolist(), cur_text, float(ce0[0]), float(head0[0]))
        losses, ces, heads = [], [], []
        skipped = 0
        for step in range(cfg.num_steps):
            grad = self.token_gradient(cur.to(self.model.device))
            cands = sample_candidates(cur, grad, self.allowed, cfg.search_width, cfg.topk, cfg.n_replace, gen)
            cands, texts = self.filter_candidates(cands)
            if not len(cands):
                skipped += 1
                logger.debug("gcg step %d: no candidate survived retokenisation", step)
                continue
            ce, head, matched = self.evaluate(cands)
            loss = ce + cfg.alpha * head
            j = int(loss.argmin())
            cur, cur_text = cands[j], texts[j]
            losses.append(float(loss[j]))
            ces.append(float(ce[j]))
            heads.append(float(head[j]))
            if losses[-1] < best[0]:
                best = (losses[-1], cur.tolist(), cur_text, ces[-1], heads[-1])
            logger.debug("gcg step %d: loss %.4f (ce %.4f, head %.4f) %r", step, losses[-1], ces[-1], heads[-1],
                         cur_text)
            benign = heads[-1] < math.log(2) or cfg.alpha == 0
            if cfg.early_stop and bool(matched[j]) and benign:
                break
        return GCGResult(best_string=best[2], best_loss=best[0], losses=losses, variant="adaptive",
                         best_ids=best[1], init_loss=init_loss, init_ce=float(ce0[0]), init_head=float(head0[0]),
                         best_ce=best[3], best_head=best[4],
                         p_benign=math.exp(-best[4]), ce_losses=ces, head_losses=heads,
                         steps=len(losses) + skipped, seconds=time.perf_counter() - t0, skipped_steps=skipped)
