"""The dtype a saved model's `safety.safetensors` is stored in (`SafetyConfig.weights_dtype`; `saess convert`).

A model's trained tensors (`[CLS]` embeddings, heads, `[CLS]`-only adapters) are saved in fp32 by default. An
ensemble holds one set per member (9.4 MB each for the default model), so a committed one is stored in float16
(loading casts the tensors back to the model's dtype, and the rounding, relative 2^-11 per weight, is the only
change) or int8 (block-wise absmax quantization of the adapter matrices, blocks of 32 weights with a float16 scale
each, `stored_state`: a quarter of fp32, each weight within half a step, 1/254 of its block's largest).
`convert_folder` copies a saved model (its config, thresholds, logs) with its tensors stored in another dtype and
records the largest change of any weight in `extra.weights_dtype`; the probabilities it moves are measured by
the caller on the data that chose the thresholds (docs/model.md, "Ensembles").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from saess.errors import InputError, ModelError
from saess.model.registry import ModelRegistry
from saess.model.safety_model import (
    _WEIGHTS_DTYPES,
    CONFIG_NAME,
    SAFETY_WEIGHTS,
    load_safety_file,
    loaded_state,
    stored_state,
)

WEIGHTS_DTYPES = tuple(_WEIGHTS_DTYPES)  # the names `--weights-dtype` takes


def convert_folder(src: str, out: str | Path, weights_dtype: str, registry=None) -> dict:
    """Copy the saved model `src` (a trained name or folder) to `out`, its safety tensors stored as `weights_dtype`.
    Returns what was recorded (from which dtype, the largest absolute change of a weight)."""
    from safetensors.torch import save_file

    if weights_dtype not in _WEIGHTS_DTYPES:
        raise InputError(f"--weights-dtype {weights_dtype!r}: expected one of {sorted(_WEIGHTS_DTYPES)}")
    reg = registry or ModelRegistry()
    reg.check(src)
    folder = reg.saved_folder(src)
    if not (folder / SAFETY_WEIGHTS).is_file():
        raise ModelError(f"{src}: no {SAFETY_WEIGHTS} in {folder} (the base model has no safety tensors to store)")
    out = Path(out)
    if out.resolve() == folder.resolve():
        raise InputError(f"--out {out} is the model's own folder: write the converted copy elsewhere")
    cfg = json.loads((folder / CONFIG_NAME).read_text())
    state = load_safety_file(folder / SAFETY_WEIGHTS)
    new = stored_state(state, weights_dtype)
    back = loaded_state(new)
    change = max((float((back[k].float() - v.float()).abs().max()) for k, v in state.items()
                  if v.is_floating_point() and v.numel()), default=0.0)
    shutil.copytree(folder, out, dirs_exist_ok=True)
    save_file(new, out / SAFETY_WEIGHTS)
    info = {"from": src, "from_dtype": cfg.get("weights_dtype", "float32"), "to": weights_dtype,
            "max_abs_weight_change": change}
    cfg["weights_dtype"] = weights_dtype
    cfg.setdefault("extra", {})["weights_dtype"] = info
    (out / CONFIG_NAME).write_text(json.dumps(cfg, indent=2))
    return info
