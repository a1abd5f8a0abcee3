"""The KV-cache argument name: `past_key_values` (transformers 5.0-5.23) or `cache` (5.24+)."""

import pytest
import torch
import transformers
from packaging.version import Version
from transformers.utils import ModelOutput

from saess.errors import ModelError
from saess.model.compat import cache_kwarg, cache_of
from saess.testing import tiny_lm


class _New(torch.nn.Module):
    def forward(self, inputs_embeds=None, cache=None, use_cache=False, **kwargs):
        return None


class _Old(torch.nn.Module):
    def forward(self, inputs_embeds=None, past_key_values=None, use_cache=False, **kwargs):
        return None


class _Neither(torch.nn.Module):
    def forward(self, inputs_embeds=None, **kwargs):
        return None


class _Peft(torch.nn.Module):
    """Like a PeftModel: its own forward takes **kwargs; the real model is get_base_model()."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args, **kwargs):
        return None

    def get_base_model(self):
        return self.inner


@pytest.mark.parametrize("cls,name", [(_New, "cache"), (_Old, "past_key_values")])
def test_cache_kwarg_follows_the_signature(cls, name):
    assert cache_kwarg(cls()) == name
    assert cache_kwarg(_Peft(cls())) == name  # read through a PEFT wrapper


def test_cache_kwarg_refuses_a_model_without_either():
    with pytest.raises(ModelError, match="neither"):
        cache_kwarg(_Neither())


def test_cache_of_reads_either_name_and_refuses_a_missing_cache():
    sentinel = object()
    assert cache_of({"logits": 1, "past_key_values": sentinel}) is sentinel
    assert cache_of({"logits": 1, "cache": sentinel}) is sentinel
    assert cache_of({"logits": 1}) is None
    with pytest.raises(ModelError, match="no KV cache"):
        cache_of(ModelOutput(logits=torch.zeros(1)), required=True)


def test_installed_transformers_uses_the_name_we_found():
    """5.24.0 renamed past_key_values to cache (checked in the wheels of 5.0.0 .. 5.24.0)."""
    lm = tiny_lm("llama")
    want = "cache" if Version(transformers.__version__) >= Version("5.24.0") else "past_key_values"
    assert cache_kwarg(lm) == want
    # and a decode step through that name continues the prompt: equal to one full pass
    ids = torch.tensor([[5, 6, 7, 8]])
    full = lm(input_ids=ids).logits[0, -1]
    out = lm(input_ids=ids[:, :3], use_cache=True)
    step = lm(input_ids=ids[:, 3:], use_cache=True, **{cache_kwarg(lm): cache_of(out, required=True)})
    torch.testing.assert_close(step.logits[0, -1], full, atol=1e-5, rtol=0)
