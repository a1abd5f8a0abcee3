"""`SafetyModel`: a Hugging Face causal LM with a `[CLS]` safety token and a `safety_head`.

The wrapper does not fork `transformers`: it feeds the causal LM `inputs_embeds` (so the
`[CLS]` row comes from `cls_embedding`, a parameter of the wrapper, and never from the
vocabulary), a custom 4D float attention mask (`saess.model.masks`) and explicit position
ids, and reads the last-layer hidden state of `[CLS]` through a forward hook on the
decoder (after the final norm, whatever the architecture).

`[CLS]` is added to the tokenizer as a special token so that it has an id and a name,
but the LM's embedding matrix and output layer are *not* resized: the model can never
generate `[CLS]`, and a LoRA adapter does not need to train an embedding row.

Initialisation (documented choice, the paper is silent): `cls_embedding` is the mean of
the input-embedding outputs over the vocabulary (so it sits where ordinary tokens sit,
including Gemma's embedding scale); `safety_head` weights ~ N(0, 0.02) with zero bias. The
last-layer hidden states are large, so an untrained head's p_malicious is arbitrary (0.6-0.8
was seen on benign prompts with the base model): never use `base`'s head for decisions.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import DynamicCache

from saess.errors import ModelError
from saess.model.cls_adapter import ClsAdapter
from saess.model.compat import cache_kwarg, cache_of
from saess.model.loading import load_causal_lm
from saess.model.masks import bool_to_float_mask, build_cls_mask
from saess.model.tokens import CLS_TOKEN, IGNORE, ChatEncoder, SafetyBatch, collate
from saess.model.window import check_sliding_window, drop_last_slots

logger = logging.getLogger(__name__)

CONFIG_NAME = "saess_config.json"
SAFETY_WEIGHTS = "safety.safetensors"
ADAPTER_DIR = "adapter"
FULL_DIR = "model"
PHASES = ("text", "align")


@dataclass
class SafetyConfig:
    """What `from_pretrained` needs to rebuild a SafetyModel. Plain data, saved as JSON."""

    base_model: str  # "base" (embedded), a hub id or a path
    cls_token: str = CLS_TOKEN
    cls_token_id: int = -1
    hidden_size: int = 0
    num_labels: int = 2  # 0 benign, 1 malicious
    finetune: str = "none"  # "none" (head + [CLS] only), "lora", "full"
    max_length: int = 2048
    system_prompt: str | None = None
    threshold: float = 0.5
    window_threshold: float | None = None  # rules 2-3 (response windows); None: `threshold`
    # a malicious query judgement is confirmed on the first r1 response tokens (StrategicConfig.confirm)
    confirm: bool = False
    confirm_below: float | None = None  # ... only below this P(malicious); None: every flagged query
    # a window verdict acts only when the query + that window also reach this (StrategicConfig.recheck); None: off
    recheck: float | None = None
    # the windows' threshold by the query's score, [[q, t], ...] (StrategicConfig.window_bands); None: none
    window_bands: list | None = None
    # Whether response tokens attend to the [CLS] state while generating (the paper's design; phase 2
    # teaches the LM to read it). False: only the head reads [CLS] (StrategicConfig.lm_reads_cls).
    lm_reads_cls: bool = True
    # How generation acts on a malicious judgement unless a run says otherwise (StrategicConfig.reliance,
    # .high_waits_for_tau); None: "medium" and off.
    reliance: str | None = None
    high_waits_for_tau: bool | None = None
    # [CLS]-only adapter (saess.model.cls_adapter): rank 0 = none.
    cls_adapter_r: int = 0
    cls_adapter_alpha: float = 16.0
    # A view-aware signal (docs/model.md, "Window [CLS]"): a second `[CLS]` embedding and head for the
    # judgements whose `[CLS]` sees response tokens without the query (rules 2-3); False: one for all.
    window_cls: bool = False
    # ... and its own `[CLS]`-only adapter (same rank): the query and window judgements are then two classifiers
    # over the same frozen LM (`saess compose`); False: the adapter is shared.
    window_cls_adapter: bool = False
    # A seed ensemble of `[CLS]` classifiers over one frozen LM (docs/model.md, "Ensembles"; `saess ensemble`): the
    # number of classifiers (each its own `[CLS]` embedding, `[CLS]`-only adapter and head); every judgement's
    # P(malicious) is their mean. 1: one classifier.
    members: int = 1
    # (ours) How many of an ensemble's members, from the first, judge the windows of the answer alone (rules 2-3);
    # the others judge only views that hold the query (the query judgement, rule 1's confirmation windows and the
    # recheck's looks), which every member judges. None: every member judges everything (docs/model.md,
    # "Ensembles", "Query-only members").
    window_members: int | None = None
    # The dtype `safety.safetensors` stores its tensors in ("float32", "float16", "bfloat16", "int8"); loading casts
    # them to the model's dtype. float16 halves an artifact (an ensemble's members) at a rounding of about 5e-4
    # relative; int8 (block-wise, `stored_state`) quarters it.
    weights_dtype: str = "float32"
    extra: dict = field(default_factory=dict)  # training provenance etc.


# "int8": block-wise absmax quantization (blocks of INT8_BLOCK consecutive weights of the flattened tensor, one
# float16 scale each, as llama.cpp's Q8_0) for the `[CLS]`-only adapters' matrices (keys holding "adapter.", 99.9%
# of the default model's weights); the rest (embeddings, heads) float16. About a quarter of fp32, a rounding of at
# most half a step (scale/2) per weight.
_WEIGHTS_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "int8": torch.int8}
INT8_BLOCK = 32
INT8_SCALE = ".int8_scale"  # the key suffix of a quantized tensor's scales in safety.safetensors


def _as_blocks(v: torch.Tensor) -> torch.Tensor:
    """`v` flattened as float32, zero-padded to whole blocks: [n_blocks, INT8_BLOCK]."""
    flat = v.detach().float().reshape(-1)
    return F.pad(flat, (0, (-flat.numel()) % INT8_BLOCK)).view(-1, INT8_BLOCK)


def _from_blocks(blocks: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The inverse of `_as_blocks`: the padding dropped, `like`'s shape."""
    return blocks.reshape(-1)[: like.numel()].view(like.shape).contiguous()


def _int8_blocks(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    blocks = _as_blocks(v)
    scale = (blocks.abs().amax(1) / 127).to(torch.float16).float()
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(blocks / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return _from_blocks(q, v), scale.to(torch.float16)


def stored_state(state: dict[str, torch.Tensor], weights_dtype: str) -> dict[str, torch.Tensor]:
    """`state` as `safety.safetensors` stores it: floating tensors cast to `weights_dtype` (SafetyConfig); "int8"
    stores each adapter matrix as int8 blocks plus its float16 scales under `name + INT8_SCALE`."""
    store = _WEIGHTS_DTYPES.get(weights_dtype)
    if store is None:
        raise ModelError(f"weights_dtype {weights_dtype!r}: expected one of {sorted(_WEIGHTS_DTYPES)}")
    if store is not torch.int8:
        return {k: v.to(store) if v.is_floating_point() else v for k, v in state.items()}
    out = {}
    for k, v in state.items():
        if k.endswith(INT8_SCALE):
            raise ModelError(f"{k}: a tensor name may not end in {INT8_SCALE!r} (the int8 storage's scale suffix)")
        if v.is_floating_point() and v.dim() == 2 and "adapter." in k:
            out[k], out[k + INT8_SCALE] = _int8_blocks(v)
        else:
            out[k] = v.to(torch.float16) if v.is_floating_point() else v
    return out


def loaded_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of `stored_state`: int8 tensors with their scales turned back into float32 weights (others
    unchanged; `load_safety_state` casts them to the model's dtype)."""
    out = {}
    for k, v in state.items():
        if k.endswith(INT8_SCALE):
            if k[: -len(INT8_SCALE)] not in state:
                raise ModelError(f"safety.safetensors holds the scales {k} without their tensor")
            continue
        scale = state.get(k + INT8_SCALE)
        if scale is None:
            out[k] = v
            continue
        if v.dtype != torch.int8 or scale.numel() != -(-v.numel() // INT8_BLOCK):
            raise ModelError(f"safety.safetensors: {k} ({v.dtype}, {v.numel()} values) does not match its "
                             f"{scale.numel()} int8 block scales")
        out[k] = _from_blocks(_as_blocks(v) * scale.float()[:, None], v)
    return out


def load_safety_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A saved model's `safety.safetensors`, its int8-stored tensors dequantized (`loaded_state`)."""
    from safetensors.torch import load_file

    return loaded_state(load_file(path))


def state_part(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors of `state` under `prefix` (e.g. "cls_adapter."), with the prefix removed."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


@dataclass
class SafetyOutput:
    safety_logits: torch.Tensor  # [B, 2]
    lm_logits: torch.Tensor | None = None  # [B, T or kept, V]
    loss: torch.Tensor | None = None
    lm_loss: torch.Tensor | None = None
    cls_loss: torch.Tensor | None = None

    @property
    def p_malicious(self) -> torch.Tensor:
        return self.safety_logits.float().softmax(-1)[:, 1]


def _decoder_of(lm: nn.Module) -> nn.Module:
    base = lm.get_base_model() if hasattr(lm, "get_base_model") else lm
    return base.get_decoder()


class SafetyModel(nn.Module):
    def __init__(self, lm: nn.Module, tokenizer, config: SafetyConfig):
        super().__init__()
        check_sliding_window(lm, config.max_length)  # our 4D masks would override a window that binds
        self.lm = lm
        self.tokenizer = tokenizer
        self.config = config
        hidden = config.hidden_size
        p = next(lm.parameters())
        self.cls_embedding = nn.Parameter(torch.zeros(hidden, dtype=p.dtype, device=p.device))
        self.safety_head = nn.Linear(hidden, config.num_labels, dtype=p.dtype, device=p.device)
        self.encoder = ChatEncoder(tokenizer, config.cls_token_id, config.max_length, config.system_prompt)
        self._last_hidden: torch.Tensor | None = None
        self._hook = None
        self._register_hook()
        self.window_cls_embedding: nn.Parameter | None = None
        self.window_head: nn.Linear | None = None
        if config.window_cls:
            self._new_window_params()
        self.cls_adapter: ClsAdapter | None = None
        if config.cls_adapter_r > 0:
            self.cls_adapter = ClsAdapter(lm, config.cls_adapter_r, config.cls_adapter_alpha)
        self.window_adapter: ClsAdapter | None = None
        if config.window_cls_adapter:
            if not (config.window_cls and self.cls_adapter is not None):
                raise ModelError("window_cls_adapter needs window_cls and a [CLS]-only adapter (cls_adapter_r > 0)")
            self.window_adapter = ClsAdapter(lm, config.cls_adapter_r, config.cls_adapter_alpha)
        # members 1.. of an ensemble (member 0 is cls_embedding / cls_adapter / safety_head); `_member`: the one
        # whose parts `embed`, `run` and `head` use (`member(k)`); None: the ensemble (member 0's parts, and the
        # scoring entry points average over every member, `members_mean`)
        self.member_embeddings = nn.ParameterList()
        self.member_heads = nn.ModuleList()
        self.member_adapters = nn.ModuleList()
        self._member: int | None = None
        if not isinstance(config.members, int) or config.members < 1:
            raise ModelError(f"members must be an integer >= 1, got {config.members!r}")
        if config.members > 1:
            self._new_members(config.members - 1)
        w = config.window_members
        if w is not None and (isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= config.members):
            raise ModelError(f"window_members must be an integer from 1 to members ({config.members}) or null, "
                             f"got {w!r}")
        self.safety_logit_hook = None  # tests may force the head's output: fn(logits) -> logits
        self.recheck_logit_hook = None  # ... and that of the engine's rechecks (StrategicConfig.recheck)

    # --- construction -----------------------------------------------------------------
    @classmethod
    def from_causal_lm(cls, lm: nn.Module, tokenizer, base_model: str = "custom", **config_kw) -> SafetyModel:
        """Add `[CLS]` and a fresh `safety_head` to a loaded causal LM and its tokenizer."""
        if CLS_TOKEN not in tokenizer.get_vocab():
            tokenizer.add_special_tokens({"additional_special_tokens": [CLS_TOKEN]},
                                         replace_extra_special_tokens=False)
        cls_id = tokenizer.convert_tokens_to_ids(CLS_TOKEN)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        hidden = lm.get_input_embeddings().weight.shape[1]
        max_len = getattr(lm.config, "max_position_embeddings", 2048) or 2048
        cfg = SafetyConfig(base_model=base_model, cls_token_id=cls_id, hidden_size=hidden,
                           max_length=min(max_len, config_kw.pop("max_length", max_len)), **config_kw)
        model = cls(lm, tokenizer, cfg)
        model.init_safety_params()
        return model

    @classmethod
    def from_base(cls, name_or_path: str = "base", dtype=torch.float32, device=None,
                  attn_implementation: str | None = None, **config_kw) -> SafetyModel:
        lm, tok = load_causal_lm(name_or_path, dtype=dtype, device=device, attn_implementation=attn_implementation)
        return cls.from_causal_lm(lm, tok, base_model=name_or_path, **config_kw)

    @torch.no_grad()
    def init_safety_params(self, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        emb = self.lm.get_input_embeddings()
        mean = torch.zeros(self.config.hidden_size, dtype=torch.float64)
        V = emb.weight.shape[0]
        for s in range(0, V, 4096):  # chunked: the embedding module may scale its output
            ids = torch.arange(s, min(s + 4096, V), device=emb.weight.device)
            mean += emb(ids).double().sum(0).cpu()
        self.cls_embedding.copy_((mean / V).to(self.cls_embedding.dtype))
        w = torch.randn(self.safety_head.weight.shape, generator=g) * 0.02
        self.safety_head.weight.copy_(w.to(self.safety_head.weight.dtype))
        self.safety_head.bias.zero_()
        if self.window_head is not None:
            self._copy_query_params_to_window()

    def _new_window_params(self) -> None:
        p = self.cls_embedding
        self.window_cls_embedding = nn.Parameter(torch.zeros_like(p))
        self.window_head = nn.Linear(self.config.hidden_size, self.config.num_labels, dtype=p.dtype, device=p.device)

    @torch.no_grad()
    def _copy_query_params_to_window(self) -> None:
        self.window_cls_embedding.copy_(self.cls_embedding)
        self.window_head.load_state_dict(self.safety_head.state_dict())

    def add_window_cls(self) -> None:
        """Give window judgements (rules 2-3: `[CLS]` sees response tokens, not the query) their own
        `[CLS]` embedding and head, starting as copies of the query ones (so every P(malicious) is
        unchanged until they are trained). A no-op when the model has them already."""
        if self.window_head is not None:
            return
        self._new_window_params()
        self._copy_query_params_to_window()
        self.config.window_cls = True

    def _new_members(self, n: int) -> None:
        c = self.config
        if c.window_cls or c.finetune != "none":
            raise ModelError("an ensemble of [CLS] classifiers needs a frozen LM (finetune 'none') and no window [CLS] "
                             f"(this config: finetune {c.finetune!r}, window_cls {c.window_cls})")
        p = self.cls_embedding
        for _ in range(n):
            self.member_embeddings.append(nn.Parameter(torch.zeros_like(p)))
            self.member_heads.append(nn.Linear(c.hidden_size, c.num_labels, dtype=p.dtype, device=p.device))
            if c.cls_adapter_r > 0:
                # no hooks of its own: member 0's adapter applies it at its positions (ClsAdapter.others)
                self.member_adapters.append(ClsAdapter(self.lm, c.cls_adapter_r, c.cls_adapter_alpha, attach=False))
                self.cls_adapter.others.append(self.member_adapters[-1])

    @contextmanager
    def member(self, k: int):
        """Within the block, `embed`, `run` and `head` use the parts of classifier `k` of the ensemble (0: the
        first; a model with one classifier has only 0)."""
        if not 0 <= k < self.config.members:
            raise ModelError(f"member {k} of a model with {self.config.members} classifier(s)")
        prev, self._member = self._member, k
        try:
            yield
        finally:
            self._member = prev

    def _parts(self) -> tuple[nn.Parameter, nn.Linear, ClsAdapter | None]:
        """The active member's `[CLS]` embedding, head and `[CLS]`-only adapter."""
        k = self._member or 0
        if k == 0:
            return self.cls_embedding, self.safety_head, self.cls_adapter
        adapter = self.member_adapters[k - 1] if len(self.member_adapters) else None
        return self.member_embeddings[k - 1], self.member_heads[k - 1], adapter

    @property
    def window_member_count(self) -> int:
        """How many members, from the first, judge the windows of the answer alone (`SafetyConfig.window_members`)."""
        return self.config.window_members or self.config.members

    @property
    def has_query_only_members(self) -> bool:
        return self.window_member_count < self.config.members

    def member_weight(self, k: int, answer_alone):
        """How much member k's P counts in a judgement: 1, except a query-only member (`k >= window_member_count`) on
        a view of the answer alone, 0. `answer_alone`: None (a view that holds the query), a bool, or a bool tensor per
        judgement (then a float tensor of weights). The one rule of every mean: `members_mean`, the engine, its
        reference."""
        if answer_alone is None or k < self.window_member_count:
            return 1.0
        if isinstance(answer_alone, torch.Tensor):
            return (~answer_alone).float()
        return 0.0 if answer_alone else 1.0

    def _answer_alone(self, batch: SafetyBatch, cls_sees: torch.Tensor | None = None) -> torch.Tensor | None:
        """`window_views` when some member judges only views that hold the query, else None (nothing to compute)."""
        return self.window_views(batch, cls_sees) if self.has_query_only_members else None

    def members_mean(self, first: torch.Tensor, fn, window: torch.Tensor | None = None) -> torch.Tensor:
        """Safety logits of an ensemble: `first` (member 0's logits [..., 2]) and `fn()` run under each other
        member give P per member; the result is the log of their mean (so that softmax gives the mean P).
        `window` (bool, `first`'s shape without the last dimension): the judgements that read the answer alone
        (`window_views`), whose mean is over the first `window_member_count` members only (`member_weight`). A model
        with one classifier, or a call inside `member(k)`, returns `first`."""
        if self.config.members == 1 or self._member is not None:
            return first
        probs, count = first.float().softmax(-1), 1.0
        for k in range(1, self.config.members):
            with self.member(k):
                pk = fn().float().softmax(-1)
            wk = self.member_weight(k, window)
            if isinstance(wk, torch.Tensor):
                wk = wk.to(probs.device)[..., None]
            probs, count = probs + pk * wk, count + wk
        return (probs / count).log()

    def _register_hook(self) -> None:
        if self._hook is not None:
            self._hook.remove()

        def grab(_m, _inp, out):
            self._last_hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]

        self._hook = _decoder_of(self.lm).register_forward_hook(grab)

    def add_lora(self, r: int = 16, alpha: int = 32, dropout: float = 0.05, target_modules="all-linear") -> None:
        """Wrap the LM with a PEFT LoRA adapter; `[CLS]` and the head stay trainable."""
        from peft import LoraConfig, get_peft_model

        cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules,
                         task_type="CAUSAL_LM")
        self.lm = get_peft_model(self.lm, cfg)
        self.config.finetune = "lora"
        self._register_hook()
        for adapter in (self.cls_adapter, self.window_adapter):
            if adapter is not None:
                adapter.attach(self.lm)

    def add_cls_adapter(self, r: int = 8, alpha: float = 16.0) -> ClsAdapter:
        """Add a `[CLS]`-only adapter (LoRA deltas at the `[CLS]` position only; see cls_adapter.py)."""
        self.cls_adapter = ClsAdapter(self.lm, r, alpha)
        self.config.cls_adapter_r, self.config.cls_adapter_alpha = r, float(alpha)
        return self.cls_adapter

    def safety_parameters(self) -> list[nn.Parameter]:
        """What the signal trains besides the LM: `[CLS]` embedding, head, `[CLS]`-only adapter."""
        if self.config.members > 1:
            raise ModelError("an ensemble of [CLS] classifiers is not trained as one: train each member with "
                             "`saess train`, then join them with `saess ensemble`")
        params = [self.cls_embedding, *self.safety_head.parameters()]
        if self.window_head is not None:
            params += [self.window_cls_embedding, *self.window_head.parameters()]
        for adapter in (self.cls_adapter, self.window_adapter):
            if adapter is not None:
                params += list(adapter.parameters())
        return params

    def safety_state(self) -> dict[str, torch.Tensor]:
        """The tensors of `safety.safetensors` (on CPU)."""
        state = {"cls_embedding": self.cls_embedding,
                 "safety_head.weight": self.safety_head.weight, "safety_head.bias": self.safety_head.bias}
        if self.window_head is not None:
            state.update({"window_cls_embedding": self.window_cls_embedding,
                          "window_head.weight": self.window_head.weight, "window_head.bias": self.window_head.bias})
        if self.cls_adapter is not None:
            state.update({f"cls_adapter.{k}": v for k, v in self.cls_adapter.state_dict().items()})
        if self.window_adapter is not None:
            state.update({f"window_adapter.{k}": v for k, v in self.window_adapter.state_dict().items()})
        for i in range(self.config.members - 1):
            state.update({f"members.{i}.cls_embedding": self.member_embeddings[i],
                          f"members.{i}.safety_head.weight": self.member_heads[i].weight,
                          f"members.{i}.safety_head.bias": self.member_heads[i].bias})
            if len(self.member_adapters):
                state.update({f"members.{i}.cls_adapter.{k}": v for k, v in self.member_adapters[i].state_dict().items()})
        return {k: v.detach().cpu().contiguous() for k, v in state.items()}

    @torch.no_grad()
    def load_safety_state(self, state: dict[str, torch.Tensor], window_from_query: bool = False) -> None:
        """`window_from_query`: a state without window `[CLS]` tensors (a model trained without one) starts
        this model's window `[CLS]` and head as copies of its query ones, instead of being an error. Window tensors
        that this model has no place for are an error (a model trained with a window `[CLS]` loaded without one)."""
        extra = [k for k in state if k.startswith("window_")
                 and (self.window_head is None or (k.startswith("window_adapter.") and self.window_adapter is None))]
        if extra:
            raise ModelError(f"safety.safetensors holds {extra[0]} but the model config has no such part "
                             "(window_cls / window_cls_adapter)")
        held = {int(k.split(".")[1]) for k in state if k.startswith("members.")}
        if held != set(range(self.config.members - 1)):
            raise ModelError(f"the model config has {self.config.members} classifier(s) (members) but "
                             f"safety.safetensors holds {len(held) + 1}")
        for i in range(self.config.members - 1):
            self.member_embeddings[i].copy_(state[f"members.{i}.cls_embedding"])
            self.member_heads[i].weight.copy_(state[f"members.{i}.safety_head.weight"])
            self.member_heads[i].bias.copy_(state[f"members.{i}.safety_head.bias"])
            if len(self.member_adapters):
                sub = state_part(state, f"members.{i}.cls_adapter.")
                if not sub:
                    raise ModelError(f"member {i + 1} of the ensemble has no [CLS]-only adapter in safety.safetensors")
                self.member_adapters[i].load_state_dict(sub)
        self.cls_embedding.copy_(state["cls_embedding"])
        self.safety_head.weight.copy_(state["safety_head.weight"])
        self.safety_head.bias.copy_(state["safety_head.bias"])
        if self.window_head is not None and window_from_query and "window_head.weight" not in state:
            self._copy_query_params_to_window()
        elif self.window_head is not None:
            if "window_head.weight" not in state:
                raise ModelError("the model config has a window [CLS] (window_cls) but safety.safetensors holds none")
            self.window_cls_embedding.copy_(state["window_cls_embedding"])
            self.window_head.weight.copy_(state["window_head.weight"])
            self.window_head.bias.copy_(state["window_head.bias"])
        if self.cls_adapter is not None:
            sub = state_part(state, "cls_adapter.")
            if not sub:
                raise ModelError("the model config has a [CLS]-only adapter but safety.safetensors holds none")
            self.cls_adapter.load_state_dict(sub)
        if self.window_adapter is not None:
            sub = state_part(state, "window_adapter.")
            if not sub:
                raise ModelError("the model config has a window [CLS] adapter but safety.safetensors holds none")
            self.window_adapter.load_state_dict(sub)

    # --- forward ----------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.cls_embedding.device

    @property
    def dtype(self) -> torch.dtype:
        return self.cls_embedding.dtype

    def embed(self, input_ids: torch.Tensor, cls_mask: torch.Tensor | None = None,
              cls_window: torch.Tensor | None = None, cls_member: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings [B, T, H]; positions in `cls_mask` (default: column 0) get `cls_embedding`,
        those of them in `cls_window` (bool [B, T]) the window `[CLS]`'s, when the model has one.
        `cls_member` (long [B, T]): an ensemble's member per `[CLS]` position (see `run`).

        Only the library places `[CLS]`, so only flagged positions become `[CLS]`: the id
        appearing anywhere else (it cannot come from user text) is not treated as one.
        """
        cls_mask = self.cls_positions(input_ids, cls_mask)
        vocab = self.lm.get_input_embeddings().weight.shape[0]
        safe = input_ids.masked_fill(cls_mask | (input_ids >= vocab), 0)
        emb = self.lm.get_input_embeddings()(safe)
        if cls_member is None:
            emb = torch.where(cls_mask[..., None], self._parts()[0].to(emb.dtype), emb)
        else:
            for k in range(self.config.members):
                with self.member(k):
                    emb = torch.where((cls_mask & (cls_member == k))[..., None], self._parts()[0].to(emb.dtype), emb)
        if self.window_cls_embedding is not None and cls_window is not None:
            emb = torch.where((cls_mask & cls_window)[..., None], self.window_cls_embedding.to(emb.dtype), emb)
        return emb

    def cls_positions(self, input_ids: torch.Tensor, cls_mask: torch.Tensor | None = None) -> torch.Tensor:
        """bool [B, T]: the `[CLS]` positions of this pass (default: column 0 where it holds `[CLS]`)."""
        if cls_mask is not None:
            return cls_mask
        cls_mask = torch.zeros_like(input_ids, dtype=torch.bool)
        cls_mask[:, 0] = input_ids[:, 0] == self.config.cls_token_id
        return cls_mask

    def run(self, input_ids, position_ids, attention_mask, cache=None, use_cache: bool = False,
            logits_to_keep: int = 0, cls_mask: torch.Tensor | None = None,
            cls_window: torch.Tensor | None = None, cls_member: torch.Tensor | None = None):
        """One LM pass. Returns (lm_logits, last_hidden [B, T, H], cache).

        `attention_mask` is a 4D float mask [B, 1, T, past + T] (see `saess.model.masks`);
        `cls_window` (bool [B, T]): the `[CLS]` positions that judge a window (see `embed`);
        `cls_member` (long [B, T], ensembles): each `[CLS]` position's member, whose embedding and adapter it gets,
        so that several members judge in one pass (the engine's re-evaluation steps and `_query_members_mean`); None: the
        active member's.
        """
        cls_mask = self.cls_positions(input_ids, cls_mask)
        if cls_member is not None:
            if self.window_adapter is not None:
                raise ModelError("cls_member (an ensemble's members in one pass) with a window [CLS] adapter")
            for k in range(self.config.members):
                with self.member(k):
                    if (adapter := self._parts()[2]) is not None:
                        adapter.set_positions(cls_mask & (cls_member == k))
        elif self.window_adapter is not None:  # each [CLS] position gets the adapter of its judgement
            win = cls_mask & cls_window if cls_window is not None else torch.zeros_like(cls_mask)
            self.cls_adapter.set_positions(cls_mask & ~win)
            self.window_adapter.set_positions(win)
        elif (adapter := self._parts()[2]) is not None:
            adapter.set_positions(cls_mask)
        try:
            out = self.lm(inputs_embeds=self.embed(input_ids, cls_mask, cls_window, cls_member), attention_mask=attention_mask,
                          position_ids=position_ids, use_cache=use_cache, logits_to_keep=logits_to_keep,
                          **{cache_kwarg(self.lm): cache})
        finally:
            for adapter in (self.cls_adapter, self.window_adapter, *self.member_adapters):
                if adapter is not None:
                    adapter.set_positions(None)
        hidden, self._last_hidden = self._last_hidden, None
        return out.logits, hidden, cache_of(out, required=use_cache)

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Output layer on last-layer hidden states [..., H] -> [..., V] (with Gemma's soft-capping)."""
        logits = self.lm.get_output_embeddings()(hidden)
        cap = getattr(self.lm.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    def head(self, cls_hidden: torch.Tensor, recheck: bool = False, window: torch.Tensor | None = None) -> torch.Tensor:
        """`[CLS]` hidden state [B, H] -> safety logits [B, 2]. `recheck`: the generation engine's
        second look at a window verdict (StrategicConfig.recheck), which tests force with
        `recheck_logit_hook` instead of `safety_logit_hook`. `window` (bool [B]): the rows that judge a
        window without the query, read by the window head when the model has one."""
        head = self._parts()[1]
        h = cls_hidden.to(head.weight.dtype)
        logits = head(h)
        if self.window_head is not None and window is not None:
            window = torch.as_tensor(window, dtype=torch.bool, device=logits.device)
            if window.any():
                logits = torch.where(window[:, None], self.window_head(h), logits)
        hook = self.recheck_logit_hook if recheck else self.safety_logit_hook
        if hook is not None:
            logits = hook(logits)
        return logits

    @staticmethod
    def window_views(batch: SafetyBatch, cls_sees: torch.Tensor | None = None) -> torch.Tensor:
        """bool [B] (or [B, K] for `cls_sees` [B, K, T]): the judgements whose `[CLS]` sees no query
        token (`cls_sees`, default the batch's `content`, minus response and padding): a window of the
        answer alone, as rules 2-3 read it (saess.training.views.response_view without the query)."""
        query = batch.valid & ~batch.is_response
        if cls_sees is None:
            return ~(batch.content & query)[:, 1:].any(-1)
        return ~(cls_sees & query[:, None])[..., 1:].any(-1)

    def phase_mask(self, batch: SafetyBatch, phase: str, signal: bool = True) -> torch.Tensor:
        """The 4D mask of docs/method.md section 2 for `phase` in ("text", "align").

        `signal=False`: nobody attends to `[CLS]` (the plain language model; baselines).
        """
        if phase == "text":
            cls_sees = batch.content
            sees_cls = torch.zeros_like(batch.valid)
        elif phase == "align":
            cls_sees = batch.content & ~batch.is_response
            sees_cls = batch.is_response
        else:
            raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")
        if not signal:
            sees_cls = torch.zeros_like(batch.valid)
        return build_cls_mask(batch.valid, cls_sees, sees_cls, dtype=self.dtype)

    def forward(self, batch: SafetyBatch, phase: str = "align", lam: float = 0.0,
                compute_lm: bool = True) -> SafetyOutput:
        """Full-sequence pass; with `lam`, loss = L_lm + lam * L_cls (L_lm over `labels`)."""
        batch = batch.to(self.device)
        mask = self.phase_mask(batch, phase)
        win = self._window_positions(batch.input_ids, self.window_views(batch))
        logits, hidden, _ = self.run(batch.input_ids, batch.position_ids, mask,
                                     logits_to_keep=0 if compute_lm else 1, cls_window=win)
        safety_logits = self.head(hidden[:, 0], window=win[:, 0] if win is not None else None)
        safety_logits = self.members_mean(safety_logits, lambda: self.head(
            self.run(batch.input_ids, batch.position_ids, mask, logits_to_keep=1, cls_window=win)[1][:, 0]),
            window=self._answer_alone(batch) if phase == "text" else None)
        out = SafetyOutput(safety_logits=safety_logits, lm_logits=logits if compute_lm else None)
        if compute_lm and (batch.labels != IGNORE).any():
            out.lm_loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch.labels[:, 1:].flatten(),
                                          ignore_index=IGNORE)
        if (batch.cls_labels != IGNORE).any():
            out.cls_loss = F.cross_entropy(safety_logits.float(), batch.cls_labels, ignore_index=IGNORE)
        parts = []
        if out.lm_loss is not None:
            parts.append(out.lm_loss)
        if out.cls_loss is not None and lam:
            parts.append(lam * out.cls_loss)
        if parts:
            out.loss = sum(parts)
        return out

    def _window_positions(self, ids: torch.Tensor, rows: torch.Tensor) -> torch.Tensor | None:
        """`cls_window` for a pass whose rows' `[CLS]` sit in every column of `ids` that is one, from
        per-row flags `rows` [B] or [B, T]; None when the model has no window `[CLS]`."""
        if self.window_head is None:
            return None
        rows = rows.to(ids.device)
        return rows[:, None].expand(ids.shape) if rows.dim() == 1 else rows

    @torch.no_grad()
    def _text_phase_cache(self, batch: SafetyBatch):
        """Pass 1 of the labelled-text phase: the labelled-text mask [B, 1, T, T] and the base
        model's cache of the sequence without column 0 (nobody attends to `[CLS]`), no gradients."""
        full = self.phase_mask(batch, "text")
        # contiguous: a view starting one float past the mask's start can be misaligned for a GPU's
        # fused attention kernel (the suspected cause of "CUDA error: misaligned address", session 12)
        _, _, cache = self.run(batch.input_ids[:, 1:], batch.position_ids[:, 1:], full[:, :, 1:, 1:].contiguous(),
                               use_cache=True, logits_to_keep=1,
                               cls_mask=torch.zeros_like(batch.input_ids[:, 1:], dtype=torch.bool))
        return full, cache

    def text_phase_safety_logits(self, batch: SafetyBatch) -> torch.Tensor:
        """Safety logits [B, 2] of the labelled-text phase in two passes, for a frozen LM.

        In that phase no token attends to `[CLS]`, so every other token's keys and values are
        the base model's, whatever `[CLS]` is: pass 1 computes them without gradients (the
        sequence minus column 0), pass 2 runs `[CLS]` alone as one query over that cache with
        the phase mask's row 0. Gradients then flow through one position instead of the whole
        sequence (same result as `forward(phase="text")`, tested).
        """
        return self.text_phase_multi_logits(batch, batch.content[:, None])[:, 0]

    def text_phase_multi_logits(self, batch: SafetyBatch, cls_sees: torch.Tensor) -> torch.Tensor:
        """Safety logits [B, K, 2] of K labelled-text judgements per sequence, from one pass.

        `cls_sees` bool [B, K, T]: row k holds the keys `[CLS]` attends to in judgement k (what
        `content` is for `text_phase_safety_logits`). In that phase no token attends to `[CLS]`,
        so the sequence's cache is shared: K copies of `[CLS]` (position 0) each read their own
        keys over it, and themselves. Equal to K separate `text_phase_safety_logits` calls
        (tested); `text_phase_safety_logits` is its K = 1 case; used to score every window of an
        answer (`saess calibrate --window-answers`).
        """
        batch = batch.to(self.device)
        cls_sees = cls_sees.to(self.device)
        _, cache = self._text_phase_cache(batch)
        B, K, _ = cls_sees.shape
        keys = cls_sees[:, :, 1:] & batch.valid[:, None, 1:]
        own = torch.eye(K, dtype=torch.bool, device=self.device).expand(B, K, K)
        mask = bool_to_float_mask(torch.cat([keys, own], dim=-1)[:, None], self.dtype)
        ids = batch.input_ids[:, :1].expand(B, K)
        win = self._window_positions(ids, self.window_views(batch, cls_sees))

        def judge() -> torch.Tensor:
            _, hidden, _ = self.run(ids, torch.zeros_like(ids), mask, cache=cache, use_cache=True,
                                    logits_to_keep=1, cls_mask=torch.ones_like(ids, dtype=torch.bool), cls_window=win)
            drop_last_slots(cache, K)  # the next member's [CLS] positions read the sequence alone again
            return self.head(hidden.reshape(B * K, -1), window=win.reshape(-1) if win is not None else None
                             ).reshape(B, K, -1)

        return self.members_mean(judge(), judge, window=self._answer_alone(batch, cls_sees))

    @torch.no_grad()
    def visible_kv(self, batch: SafetyBatch, store_dtype: torch.dtype = torch.float16
                   ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per row, the base model's keys and values at the positions `[CLS]` attends to in the
        labelled-text phase: (keys, values), each [layers, kv_heads, n_visible, head_dim], on CPU.

        With a frozen LM they never change, so phase 1 computes them once and trains `[CLS]` for
        many epochs on them (`cls_logits_from_kv`): the cost of an epoch after the first is one
        position per sequence.
        """
        full, cache = self._text_phase_cache(batch.to(self.device))
        sees = full[:, 0, 0, 1:] == 0  # row 0 of the phase mask: what [CLS] attends to
        keys = torch.stack([layer.keys for layer in cache.layers], 1)  # [B, L, H, T-1, d]
        values = torch.stack([layer.values for layer in cache.layers], 1)
        rows = []
        for b in range(keys.shape[0]):
            idx = sees[b].nonzero()[:, 0]
            rows.append((keys[b][:, :, idx].to("cpu", store_dtype).contiguous(),
                         values[b][:, :, idx].to("cpu", store_dtype).contiguous()))
        return rows

    def cls_logits_from_kv(self, rows: list[tuple[torch.Tensor, torch.Tensor]],
                           window: torch.Tensor | None = None) -> torch.Tensor:
        """Safety logits [B, 2] of `[CLS]` attending to stored keys/values (`visible_kv`) and itself;
        `window` (bool [B]): the rows that are window views (`window_views` of their batch)."""
        B, n = len(rows), max(k.shape[2] for k, _ in rows)
        L, H, _, d = rows[0][0].shape
        keys = torch.zeros(L, B, H, n, d, dtype=self.dtype, device=self.device)
        values = torch.zeros_like(keys)
        allowed = torch.zeros(B, n + 1, dtype=torch.bool, device=self.device)
        allowed[:, n] = True  # itself (appended last)
        for b, (k, v) in enumerate(rows):
            m = k.shape[2]
            keys[:, b, :, :m] = k.to(self.device, self.dtype)
            values[:, b, :, :m] = v.to(self.device, self.dtype)
            allowed[b, :m] = True
        cache = DynamicCache(ddp_cache_data=[(keys[i], values[i]) for i in range(L)])
        cls_ids = torch.full((B, 1), self.config.cls_token_id, dtype=torch.long, device=self.device)
        win = self._window_positions(cls_ids, window) if window is not None else None

        def judge() -> torch.Tensor:
            _, hidden, _ = self.run(cls_ids, torch.zeros_like(cls_ids),
                                    bool_to_float_mask(allowed[:, None, None], self.dtype), cache=cache, use_cache=True,
                                    logits_to_keep=1, cls_mask=torch.ones_like(cls_ids, dtype=torch.bool), cls_window=win)
            drop_last_slots(cache, 1)
            return self.head(hidden[:, 0], window=win[:, 0] if win is not None else None)

        return self.members_mean(judge(), judge, window=window)

    @torch.no_grad()
    def classify(self, prompts: list[str], batch_size: int = 8, progress=None) -> list[float]:
        """P(malicious) of each prompt, judged on the query as in the alignment phase."""
        seqs = [self.encoder.encode_chat(p) for p in prompts]
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths pad less
        res = {}
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            batch = collate([seqs[i] for i in idx], self.tokenizer.pad_token_id)
            p = self.forward(batch, phase="align", compute_lm=False).p_malicious.tolist()
            res.update(zip(idx, p, strict=True))
            if progress is not None:
                progress(len(idx))
        return [res[i] for i in range(len(seqs))]

    # --- save / load ------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> Path:
        """Write config, tokenizer, `[CLS]` embedding + head, and the adapter or full weights."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2))
        self.tokenizer.save_pretrained(path)
        save_file(stored_state(self.safety_state(), self.config.weights_dtype), path / SAFETY_WEIGHTS)
        if self.config.finetune == "lora":
            self.lm.save_pretrained(path / ADAPTER_DIR)
        elif self.config.finetune == "full":
            self.lm.save_pretrained(path / FULL_DIR)
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path, dtype=torch.float32, device=None,
                        attn_implementation: str | None = None, base_lm: nn.Module | None = None) -> SafetyModel:
        """Rebuild from `save_pretrained`. `base_lm` skips loading the base weights (tests)."""
        from transformers import AutoTokenizer

        path = Path(path)
        if not (path / CONFIG_NAME).exists():
            raise ModelError(f"{path} has no {CONFIG_NAME}: not a saved saess model")
        raw = json.loads((path / CONFIG_NAME).read_text())
        config = SafetyConfig(**raw)
        tok = AutoTokenizer.from_pretrained(path)
        if config.finetune == "full":
            lm, _ = load_causal_lm(str(path / FULL_DIR), dtype=dtype, attn_implementation=attn_implementation)
        elif base_lm is not None:
            lm = base_lm
        else:
            lm, _ = load_causal_lm(config.base_model, dtype=dtype, attn_implementation=attn_implementation)
        if config.finetune == "lora":
            from peft import PeftModel

            lm = PeftModel.from_pretrained(lm, path / ADAPTER_DIR)
        model = cls(lm, tok, config)
        model.load_safety_state(load_safety_file(path / SAFETY_WEIGHTS))
        if device:
            model.to(device)
        model.eval()
        return model
