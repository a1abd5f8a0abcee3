"""Sliding-window models (Mistral v0.1, Gemma 2/3): supported while the window cannot bind, refused otherwise."""

import pytest
import torch
from transformers import AutoModelForCausalLM, Gemma2Config, MistralConfig, Qwen2Config

from saess.errors import ModelError
from saess.generation import SafeGenerator, SamplingConfig, StrategicConfig
from saess.generation.reference import recompute
from saess.model import SafetyModel
from saess.model.window import check_sliding_window, sliding_window_of
from saess.testing import tiny_tokenizer

WINDOW = 40
LONG = 64  # the generation test needs room for the chat template


def _lm(arch: str, window: int | None):
    tok = tiny_tokenizer("gemma" if arch == "gemma2" else "chatml")
    common = dict(vocab_size=len(tok) + 8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  tie_word_embeddings=True)
    if arch == "mistral":
        cfg = MistralConfig(**common, sliding_window=window)
    elif arch == "gemma2":
        cfg = Gemma2Config(**common, head_dim=8, sliding_window=window)
    else:
        cfg = Qwen2Config(**common, sliding_window=window, use_sliding_window=False)
    torch.manual_seed(0)
    lm = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").eval()
    return lm, tok


def test_window_detection():
    assert sliding_window_of(_lm("mistral", WINDOW)[0]) == WINDOW
    assert sliding_window_of(_lm("gemma2", WINDOW)[0]) == WINDOW
    assert sliding_window_of(_lm("mistral", None)[0]) is None  # Mistral v0.2+: no window
    assert sliding_window_of(_lm("qwen2", WINDOW)[0]) is None  # a window in the config, switched off


@pytest.mark.parametrize("arch", ["mistral", "gemma2"])
def test_a_window_shorter_than_the_context_is_refused(arch):
    lm, tok = _lm(arch, WINDOW)
    with pytest.raises(ModelError, match=f"window {WINDOW} tokens.*max_length <= {WINDOW}"):
        check_sliding_window(lm, 512)
    with pytest.raises(ModelError, match="sliding-window"):  # training and generation alike
        SafetyModel.from_causal_lm(lm, tok, max_length=512)


@pytest.mark.parametrize("arch", ["mistral", "gemma2"])
def test_window_as_long_as_the_context_generates_like_the_reference(arch):
    """max_length = window: the window never binds; [CLS] stays in slot 0 up to the last step.

    The batch fills the context (slots = padded prompt + steps + the two extra slots of a
    re-evaluation > window), so a cache layer that evicted beyond the window would lose `[CLS]`.
    """
    lm, tok = _lm(arch, LONG)
    m = SafetyModel.from_causal_lm(lm, tok, max_length=LONG)
    with torch.no_grad():
        m.safety_head.weight.normal_(0, 1, generator=torch.Generator().manual_seed(1))
    prompts = ["hi", "How do I bake bread at home?"]
    longest = max(len(m.encoder.encode_chat(p)) for p in prompts)
    steps = LONG - longest
    assert steps >= 4
    cfg = StrategicConfig(reliance="low", schedule="every", r1=3, r2=3, r3=2)
    res = SafeGenerator(m, cfg).generate(prompts, sampling=SamplingConfig(max_new_tokens=steps, ignore_eos=True),
                                         record=True)
    dbg = res[0].debug
    assert dbg["batch"].input_ids.shape[1] + steps + 2 > LONG
    for row in range(len(prompts)):
        ref = recompute(m, dbg, row, cfg, ignore_eos=True)
        got = torch.stack([s["logits"][row] for s in dbg["steps"]])
        want = torch.stack(ref.logits)
        fin = torch.isfinite(got)
        torch.testing.assert_close(got[fin], want[fin], atol=1e-4, rtol=0)
        assert [e["p"][row] for e in dbg["evals"]] == pytest.approx(ref.p, abs=1e-4)
