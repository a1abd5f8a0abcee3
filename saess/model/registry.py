"""MODEL names as every command takes them -> a `SafetyModel`.

`base` is the embedded base model with a fresh, *untrained* `[CLS]` and head (its
p_malicious carries no information); `default`, `sft`, `aug` are the committed trained
models (`saess/artifacts/NAME`); anything else is a folder saved by `saess` or a model
path `transformers` can load.

`ModelRegistry` is passed to whatever loads models by name (`run_eval`, `run_bench`,
`Reproduction`, `saess.cli.main`), so a caller can resolve names its own way: the tests
pass `saess.testing.TinyRegistry`, which maps names to tiny random models.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from saess.errors import ModelError
from saess.model.loading import ARTIFACTS, MODEL_NAMES, TRAINED_NAMES
from saess.model.safety_model import CONFIG_NAME, SafetyModel
from saess.runtime import DEFAULT_DTYPE, torch_dtype


class ModelRegistry:
    """Resolves MODEL names. `artifacts`: the folder of the committed trained models."""

    def __init__(self, artifacts: str | Path = ARTIFACTS):
        self.artifacts = Path(artifacts)

    def saved_folder(self, name: str) -> Path:
        """The folder a trained name or a path points at (it may not hold a saved model)."""
        return self.artifacts / name if name in TRAINED_NAMES else Path(name).expanduser()

    def check(self, name: str) -> None:
        """Fail fast, without loading anything, for a trained name that is not installed or an unknown name."""
        if name in TRAINED_NAMES:
            d = self.artifacts / name
            if not (d / CONFIG_NAME).exists():
                raise ModelError(f"the trained model {name!r} is not in this installation ({d} is missing); "
                                 "train it with `saess train` (see docs/training.md) or pass a path")
        elif name not in MODEL_NAMES and "/" not in name and not Path(name).expanduser().exists():
            raise ModelError(f"unknown model {name!r}: expected one of {', '.join(MODEL_NAMES)}, a saved saess "
                             "model folder, or a transformers model path")

    def fingerprint(self, name: str) -> str | None:
        """sha256 (16 hex) of a saved saess model's config file (it changes when the model is
        retrained), else None."""
        f = self.saved_folder(name) / CONFIG_NAME
        try:
            return hashlib.sha256(f.read_bytes()).hexdigest()[:16] if f.is_file() else None
        except OSError:
            return None

    def load(self, name: str, dtype: str | torch.dtype = DEFAULT_DTYPE, device: str | None = None,
             attn_implementation: str | None = None) -> SafetyModel:
        """The model called `name`, on `device` (None: where it is loaded, the CPU)."""
        self.check(name)
        dt = torch_dtype(dtype)
        kw = dict(dtype=dt, device=device, attn_implementation=attn_implementation)
        if name == "base":
            return SafetyModel.from_base("base", **kw)
        folder = self.saved_folder(name)
        if (folder / CONFIG_NAME).exists():
            return SafetyModel.from_pretrained(folder, **kw)
        return SafetyModel.from_base(name, **kw)


def load_safety_model(name: str, dtype: str | torch.dtype = DEFAULT_DTYPE, device: str | None = None,
                      attn_implementation: str | None = None) -> SafetyModel:
    """`ModelRegistry().load(...)`: MODEL as the CLI takes it."""
    return ModelRegistry().load(name, dtype=dtype, device=device, attn_implementation=attn_implementation)
