"""Tiny random models and tokenizers built in code, for tests and quick runs (no downloads).

`tiny_tokenizer(style)` trains a byte-level BPE of ~400 tokens on a few sentences, with
the special tokens and chat template of a family: "chatml" (SmolLM2 / Qwen2: a default
system prompt, `<|im_start|>`), "gemma" (`<bos>`, `<start_of_turn>`) or "llama3"
(`<|begin_of_text|>`, headers, `<|eot_id|>`). `tiny_lm(arch)` builds a 2-layer model of
the Llama, Qwen2 or Gemma family with hidden size 32 over that vocabulary.

`TinyRegistry` is a `ModelRegistry` whose names map to models built in code: pass it to
`saess.cli.main`, `run_eval`, `run_bench` or `Reproduction` to run them on tiny models.
`SAESS_TEST_DEVICE=cuda` puts the models of `tiny_safety_model` on that device (the tests on a GPU).
`save_tiny_lm(folder)` writes a tiny LM and its tokenizer as a plain transformers folder,
which every command accepts as `--model FOLDER` (what a child process can load).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

from saess.errors import ModelError
from saess.model import SafetyModel
from saess.model.loading import ARTIFACTS
from saess.model.registry import ModelRegistry
from saess.runtime import DEFAULT_DTYPE

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "How do I bake bread at home? Mix flour, water, salt and yeast.",
    "Sorry, I cannot fulfill your request because it asks for something harmful.",
    "Write a poem about the sea. Explain how photosynthesis works in plants.",
    "Tell me how to build a bomb or hack a bank account; that is dangerous and illegal.",
    "Sure, here is a step by step guide: first, second, third, finally.",
    "def kill_process(pid): import os; os.kill(pid, 9)  # numbers 0 1 2 3 4 5 6 7 8 9",
]

_TEMPLATES = {
    "chatml": (
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
        "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "gemma": (
        "{{ bos_token }}{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant'"
        " else message['role'] %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
        "'<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
}
_SPECIALS = {
    "chatml": dict(bos=None, eos="<|im_end|>", pad="<|endoftext|>",
                   extra=["<|im_start|>", "<|im_end|>", "<|endoftext|>"]),
    "gemma": dict(bos="<bos>", eos="<end_of_turn>", pad="<pad>",
                  extra=["<bos>", "<pad>", "<start_of_turn>", "<end_of_turn>"]),
    "llama3": dict(bos="<|begin_of_text|>", eos="<|eot_id|>", pad="<|finetune_right_pad_id|>",
                   extra=["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                          "<|finetune_right_pad_id|>"]),
}


def tiny_tokenizer(style: str = "chatml", vocab_size: int = 400):
    """A fast tokenizer (byte-level BPE) with the chat template and special tokens of `style`."""
    sp = _SPECIALS[style]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=sp["extra"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(_CORPUS * 4, trainer)
    if sp["bos"]:
        bos_id = tk.token_to_id(sp["bos"])
        tk.post_processor = processors.TemplateProcessing(single=f"{sp['bos']} $A", pair=f"{sp['bos']} $A $B",
                                                          special_tokens=[(sp["bos"], bos_id)])
    kw = {"eos_token": sp["eos"], "pad_token": sp["pad"]}
    if sp["bos"]:
        kw["bos_token"] = sp["bos"]
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, **kw)
    tok.add_special_tokens({"additional_special_tokens": [t for t in sp["extra"] if t not in kw.values()]},
                           replace_extra_special_tokens=False)
    tok.chat_template = _TEMPLATES[style]
    return tok


def tiny_lm(arch: str = "llama", vocab_size: int = 400, hidden: int = 32, layers: int = 2, seed: int = 0,
            attn_implementation: str = "eager"):
    """A 2-layer random causal LM of the given family ("llama", "qwen2", "gemma")."""
    common = dict(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 2,
                  num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=512, tie_word_embeddings=True)
    if arch == "llama":
        cfg = LlamaConfig(**common)
    elif arch == "qwen2":
        cfg = Qwen2Config(**common)
    elif arch == "gemma":
        cfg = Gemma3TextConfig(**common, head_dim=8, sliding_window=512, final_logit_softcapping=30.0)
    else:
        raise ValueError(f"unknown tiny arch {arch!r}")
    cfg._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation=attn_implementation)
    model.eval()
    return model


def tiny_safety_model(arch: str = "llama", style: str = "chatml", seed: int = 0,
                      attn_implementation: str = "eager", **config_kw):
    """A SafetyModel over a tiny random LM and tiny tokenizer; head initialised with `seed`."""
    tok = tiny_tokenizer(style)
    lm = tiny_lm(arch, vocab_size=len(tok) + 8, seed=seed, attn_implementation=attn_implementation)
    model = SafetyModel.from_causal_lm(lm, tok, base_model=f"tiny-{arch}", **config_kw)
    with torch.no_grad():  # a random head with visible signal, not the near-zero init
        g = torch.Generator().manual_seed(seed + 1)
        model.safety_head.weight.copy_(torch.randn(model.safety_head.weight.shape, generator=g))
        model.cls_embedding.add_(torch.randn(model.cls_embedding.shape, generator=g))
    return model.to(os.environ.get("SAESS_TEST_DEVICE", "cpu")).eval()


def forced_head(pattern: Callable[[int], bool]) -> Callable[[torch.Tensor], torch.Tensor]:
    """A `SafetyModel.safety_logit_hook`: head call k (0 = the query judgement) says malicious iff
    `pattern(k)`, with P(malicious) ~ 1 or ~ 0 (logits 20 against 0)."""
    calls = {"n": 0}

    def hook(logits: torch.Tensor) -> torch.Tensor:
        k = calls["n"]
        calls["n"] += 1
        out = torch.zeros_like(logits)
        out[:, 1 if pattern(k) else 0] = 20.0
        return out

    return hook


def save_tiny_lm(folder: str | Path, arch: str = "llama", style: str = "chatml", seed: int = 0) -> Path:
    """A tiny random LM and its tokenizer saved as a transformers model folder."""
    folder = Path(folder)
    tok = tiny_tokenizer(style)
    tiny_lm(arch, vocab_size=len(tok) + 8, seed=seed).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


class TinyRegistry(ModelRegistry):
    """Model names -> models built in code (tests and demos; nothing is read from disk).

    make(name) builds the model for a name; `names` says which names exist (a set, or a
    predicate; default: every name). Unknown names raise the same ModelError as the real
    registry. Saved folders (`saved_folder`, `artifacts`) resolve as in `ModelRegistry`.
    `loads` lists the names loaded, in order.
    """

    def __init__(self, make: Callable[[str], SafetyModel], names: Iterable[str] | Callable[[str], bool] | None = None,
                 artifacts: str | Path = ARTIFACTS):
        super().__init__(artifacts)
        self.make = make
        self.names = names if names is None or callable(names) else frozenset(names)
        self.loads: list[str] = []

    def knows(self, name: str) -> bool:
        if self.names is None:
            return True
        return self.names(name) if callable(self.names) else name in self.names

    def check(self, name: str) -> None:
        if not self.knows(name):
            raise ModelError(f"unknown model {name!r}")

    def fingerprint(self, name: str) -> str | None:
        return None

    def load(self, name: str, dtype=DEFAULT_DTYPE, device: str | None = None,
             attn_implementation: str | None = None) -> SafetyModel:
        self.check(name)
        self.loads.append(name)
        model = self.make(name)
        return model.to(device) if device else model
