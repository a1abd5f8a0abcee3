import pytest
import torch

torch.set_num_threads(2)

ARCHS = [("llama", "chatml"), ("qwen2", "chatml"), ("gemma", "gemma"), ("llama", "llama3")]


@pytest.fixture(params=ARCHS, ids=[f"{a}-{s}" for a, s in ARCHS])
def tiny(request):
    from saess.testing import tiny_safety_model

    arch, style = request.param
    return tiny_safety_model(arch, style)
