"""GCG: adversarial suffixes optimised on a model's gradients (Zou et al. 2023).

Two variants, both appending an optimised suffix to the user turn and asking the model to
start its answer with the row's AdvBench `target` ("Sure, here is ..."):

- "standard": `nanogcg==0.3.0` run on the underlying causal LM (`model.lm`, no `[CLS]`),
  the chat messages the engine will use, `{optim_str}` at the end of the user turn. The
  suffix then transfers to the SafetyModel (the usual white-box-on-the-LM setting).
  nanoGCG is imported lazily (install: `pip install --no-deps nanogcg==0.3.0 scipy`) and
  run with `use_prefix_cache=False`, the only setting that works with transformers 5.
- "adaptive": our own GCG (`AdaptiveGCG`) through the SafetyModel itself, with the
  alignment-phase mask (the target tokens attend to `[CLS]`) and the loss
  `CE(target | prompt + suffix) + alpha * -log P(benign | query)`, so the suffix both
  pulls the answer towards the target and pushes the `[CLS]` verdict towards benign.

The suffix is user text: the engine tokenizes it with `split_special_tokens=True`. So the
candidate set excludes every special / added token id (`[CLS]` included) and every token
that does not decode to printable ASCII, and the adaptive variant keeps only candidates
whose in-context retokenisation (`goal + suffix` through the encoder) gives back exactly
the optimised ids (the standard GCG filter, made exact at the goal/suffix boundary).

`gcg(rows, model, ...)` turns benchmark rows into `AttackCase`s (prompt =
`goal + " " + suffix`, greedy), caching each optimised suffix in a JSONL file under
`cache_dir` so an interrupted evaluation resumes without re-optimising. See docs/gcg.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from saess.attacks.base import (
    DEFAULT_MAX_NEW_TOKENS,
    AttackCase,
    AttackCases,
    Row,
    greedy_kwargs,
    normalise_rows,
)
from saess.errors import InputError, ModelError, SaessError

logger = logging.getLogger(__name__)

VARIANTS = ("standard", "adaptive")
DEFAULT_INIT = "x x x x x x x x x x x x x x x x x x x x"  # nanoGCG's 20-token init
NANOGCG_INSTALL = "pip install --no-deps nanogcg==0.3.0 scipy"
CACHE_FILE = "gcg_suffixes.jsonl"
BENIGN = 0  # safety-head class index of "benign" (1 is malicious)


@dataclass(frozen=True)
class GCGConfig:
    """Settings of one GCG run. The defaults are nanoGCG's (the published settings).

    num_steps: optimisation steps. search_width: candidates sampled per step. topk: the
    tokens with the most negative gradient kept per suffix position. n_replace: positions
    changed per candidate. alpha: weight of the safety-head term (adaptive only; 0 gives
    plain GCG through the SafetyModel). optim_str_init: the initial suffix. seed: RNG seed
    (None: not seeded). batch_size: candidates per forward pass (None: all at once).
    early_stop: stop when greedy decoding already yields the target (and, adaptive with
    alpha > 0, the head says benign).
    """

    num_steps: int = 250
    search_width: int = 512
    topk: int = 256
    n_replace: int = 1
    alpha: float = 1.0
    optim_str_init: str = DEFAULT_INIT
    seed: int | None = 0
    batch_size: int | None = None
    early_stop: bool = False

    def __post_init__(self):
        for name in ("num_steps", "search_width", "topk", "n_replace"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < (0 if name == "num_steps" else 1):
                raise InputError(f"GCG {name} must be a positive integer, got {getattr(self, name)!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"GCG batch_size must be >= 1 or None, got {self.batch_size!r}")
        if not math.isfinite(self.alpha) or self.alpha < 0:
            raise InputError(f"GCG alpha must be a finite number >= 0, got {self.alpha!r}")
        if not self.optim_str_init.strip():
            raise InputError("GCG optim_str_init must not be empty")


PRESETS: dict[str, GCGConfig] = {
    # The paper's / nanoGCG's settings: for an accelerator.
    "full": GCGConfig(),
    # A budget a CPU can afford on SmolLM2-135M (see docs/gcg.md for measured seconds).
    "cpu": GCGConfig(num_steps=20, search_width=64, topk=64),
}


@dataclass
class GCGResult:
    """One optimised suffix. Losses are per step (the candidate the step moved to).

    best_string: the suffix (user text, appended to the goal after one space).
    best_loss: the lowest total loss seen, the initial suffix included (adaptive) or
    nanoGCG's best (standard). ce / head: the two parts of the adaptive loss (head =
    -log P(benign), None for the standard variant). p_benign: P(benign) of the query with
    the best suffix (adaptive). seconds: wall time of the optimisation.
    """

    best_string: str
    best_loss: float
    losses: list[float]
    variant: str
    best_ids: list[int] = field(default_factory=list)
    init_loss: float | None = None
    init_ce: float | None = None
    init_head: float | None = None
    best_ce: float | None = None
    best_head: float | None = None
    p_benign: float | None = None
    ce_losses: list[float] = field(default_factory=list)
    head_losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    skipped_steps: int = 0  # steps where no candidate survived the retokenisation filter

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- candidate tokens -----------------------------------------------------------------------

def allowed_token_mask(tokenizer, num_embeddings: int, cls_token_id: int | None = None) -> torch.Tensor:
    """bool [num_embeddings]: ids a suffix may use.

    Excluded: every special or added token (`[CLS]`, BOS/EOS/PAD, chat-template markers),
    ids the tokenizer does not know, and tokens whose text is not printable ASCII (as
    nanoGCG's `allow_non_ascii=False`; this also drops partial UTF-8 byte tokens).
    """
    allowed = torch.zeros(num_embeddings, dtype=torch.bool)
    n = min(num_embeddings, len(tokenizer))
    texts = tokenizer.batch_decode([[i] for i in range(n)], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    for i, t in enumerate(texts):
        allowed[i] = bool(t) and t.isascii() and t.isprintable()
    banned = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    if cls_token_id is not None:
        banned.add(cls_token_id)
    for i in banned:
        if 0 <= i < num_embeddings:
            allowed[i] = False
    return allowed


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


@contextmanager
def _frozen(module: torch.nn.Module):
    """Temporarily set requires_grad=False on every parameter of `module`."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


# --- adaptive GCG -----------------------------------------------------------------------------

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
        from saess.model.tokens import IGNORE, collate

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
            kw = {"cache": cache, "use_cache": True}  # transformers 5 name of past_key_values
        # Same pass as SafetyModel.run, but from inputs_embeds (the suffix rows come from a one-hot).
        out = m.lm(inputs_embeds=emb, attention_mask=self.chunk_mask.expand(B, -1, -1, -1),
                   position_ids=self.chunk_pos.expand(B, -1), logits_to_keep=n_tgt + 1, **kw)
        hidden, m._last_hidden = m._last_hidden, None  # [B, T', H]; [CLS] is slot 0 of the chunk
        logits = out.logits[:, :-1].float()  # [B, n_tgt, V]: position t-1 predicts target t
        tgt = self.target.expand(B, -1)
        ce = F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none").mean(-1)
        head = -F.log_softmax(m.head(hidden[:, 0]).float(), dim=-1)[:, BENIGN]
        return ce, head, (logits.argmax(-1) == tgt).all(-1)

    def token_gradient(self, ids: torch.Tensor) -> torch.Tensor:
        """Gradient of the loss w.r.t. the one-hot suffix: ids long [n] -> [n, V]."""
        onehot = self._onehot(ids).requires_grad_(True)
        suffix = onehot @ self.weight.detach() * self.scale  # [1, n, H]
        emb = torch.cat([self.chunk_emb[:, :self.sl.start], suffix, self.chunk_emb[:, self.sl.stop:]], dim=1)
        # Parameters that require grad would make backward compute their (unused) gradients
        # too: 10x the cost of the one-hot gradient on a 135M model.
        with _frozen(self.model):
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


# --- standard GCG (nanoGCG) ------------------------------------------------------------------

def _import_nanogcg():
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
    nanogcg = _import_nanogcg()
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
    with torch.random.fork_rng(devices=[lm.device] if lm.device.type == "cuda" else []), _frozen(lm):
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
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return None
    if state is None:
        return np.random.get_state()
    np.random.set_state(state)
    return None


# --- attack ---------------------------------------------------------------------------------

def resolve_config(preset: str = "cpu", config: GCGConfig | None = None, **overrides) -> GCGConfig:
    """`config` if given, else the named preset; `overrides` replace single fields."""
    if config is None:
        if preset not in PRESETS:
            raise InputError(f"unknown GCG preset {preset!r}; valid: {', '.join(PRESETS)}")
        config = PRESETS[preset]
    names = {f.name for f in fields(GCGConfig)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise InputError(f"unknown GCG option(s) {', '.join(bad)}; valid: {', '.join(sorted(names))}")
    return replace(config, **overrides) if overrides else config


def model_fingerprint(model) -> str:
    """A short hash of what the suffix depends on: base model, finetune, chat system prompt,
    `[CLS]`/head weights and a checksum of every LM parameter (not bit-exact, but enough to
    tell models apart in the suffix cache)."""
    h = hashlib.sha256()
    c = model.config
    h.update(json.dumps([c.base_model, c.finetune, c.cls_token_id, model.encoder.system_prompt]).encode())
    with torch.no_grad():
        for t in (model.cls_embedding, model.safety_head.weight, model.safety_head.bias):
            h.update(t.detach().float().cpu().numpy().tobytes())
        for name, p in model.lm.named_parameters():
            h.update(f"{name}{tuple(p.shape)}{float(p.detach().double().sum()):.6g}".encode())
    return h.hexdigest()[:16]


def _cache_key(fingerprint: str, variant: str, config: GCGConfig, prompt: str, target: str) -> str:
    raw = json.dumps({"model": fingerprint, "variant": variant, "config": asdict(config), "prompt": prompt,
                      "target": target}, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def load_suffix_cache(path: Path) -> dict[str, dict]:
    """key -> record of a suffix JSONL file; a torn last line (a killed run) is ignored."""
    out: dict[str, dict] = {}
    if not path.exists():
        return out
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out[rec["key"]] = rec
        except (json.JSONDecodeError, KeyError, TypeError):
            logger.warning("%s line %d: not a GCG suffix record; ignored", path, n)
    return out


def gcg(
    rows: Iterable[Any],
    model,
    *,
    variant: str = "standard",
    preset: str = "cpu",
    config: GCGConfig | None = None,
    limit: int | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    cache_dir: str | Path | None = None,
    default_target: str | None = None,
    progress: Callable[[Row, GCGResult], None] | None = None,
    **overrides,
) -> AttackCases:
    """One greedy case per row: prompt = goal + " " + optimised suffix.

    variant: "standard" (nanoGCG on `model.lm`) or "adaptive" (through the SafetyModel,
    loss includes the safety head). preset: "cpu" or "full" (nanoGCG defaults); `config`
    replaces the preset; keyword `overrides` change single fields (e.g. num_steps=5).
    limit: only the first `limit` rows. Rows without a `target` use `default_target`, or
    are skipped and counted. cache_dir: folder of `gcg_suffixes.jsonl`; suffixes found
    there (same model, variant, config, prompt, target) are reused, new ones appended as
    soon as they are found. The case's `meta` holds the suffix, losses, steps, seconds.
    """
    if variant not in VARIANTS:
        raise InputError(f"unknown GCG variant {variant!r}; valid: {', '.join(VARIANTS)}")
    cfg = resolve_config(preset, config, **overrides)
    preset_name = preset if config is None and not overrides else "custom"
    if limit is not None and limit < 0:
        raise InputError(f"limit must be >= 0, got {limit}")
    rows_n = normalise_rows(rows)
    if limit is not None:
        rows_n = rows_n[:limit]
    if variant == "standard":
        _import_nanogcg()  # fail before any work
    cache_path = Path(cache_dir) / CACHE_FILE if cache_dir is not None else None
    cache = load_suffix_cache(cache_path) if cache_path else {}
    if cache_path:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
    fp = model_fingerprint(model) if cache_path else ""
    runner: AdaptiveGCG | None = None
    allowed: torch.Tensor | None = None
    out = AttackCases()
    for r in rows_n:
        target = r.target or default_target
        if target is None:
            out.skip("gcg: row has no target")
            continue
        key = _cache_key(fp, variant, cfg, r.prompt, target) if cache_path else ""
        rec = cache.get(key)
        cached = rec is not None
        if rec is None:
            if variant == "adaptive":
                runner = runner or AdaptiveGCG(model, cfg)
                res = runner.run(r.prompt, target)
            else:
                if allowed is None:
                    allowed = allowed_token_mask(model.tokenizer, model.lm.get_input_embeddings().weight.shape[0],
                                                 model.config.cls_token_id)
                res = run_standard(model, r.prompt, target, cfg, allowed)
            logger.info("gcg %s row %s: loss %.3f in %d steps, %.1f s", variant, r.id, res.best_loss, res.steps,
                        res.seconds)
            rec = {"key": key, "row_id": r.id, "variant": variant, "preset": preset_name, "prompt": r.prompt,
                   "target": target, "suffix": res.best_string, "result": res.to_dict()}
            if cache_path:
                with cache_path.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                cache[key] = rec
            if progress is not None:
                progress(r, res)
        res_d = rec["result"]
        suffix = rec["suffix"]
        meta = {"variant": variant, "preset": preset_name, "suffix": suffix, "target": target,
                "loss": res_d["best_loss"], "init_loss": res_d.get("init_loss"), "ce": res_d.get("best_ce"),
                "head": res_d.get("best_head"), "init_head": res_d.get("init_head"), "p_benign": res_d.get("p_benign"),
                "steps": res_d["steps"], "seconds": res_d["seconds"], "cached": cached, "config": asdict(cfg)}
        out.append(AttackCase(prompt=r.prompt + " " + suffix, prefill=None, gen_kwargs=greedy_kwargs(max_new_tokens),
                              config_name=f"{variant}-{preset_name}", attack="gcg", row_id=r.id,
                              source_prompt=r.prompt, meta=meta))
    return out


gcg_attack = gcg
