"""A folder of the frozen LM's keys/values per phase-1 sequence, shared between runs.

Phase 1 with a frozen LM (docs/training.md, "Training throughput") spends most of its time in
the first epoch: one pass of the base model per sequence to get the keys/values that `[CLS]`
attends to (`SafetyModel.visible_kv`). They depend only on the base model and the sequence,
not on `[CLS]`, the head or the `[CLS]`-only adapter, so candidates that differ only in those
(adapter rank, learning rate, epochs) can share them: `saess train --kv-store DIR` reads a
sequence's keys/values from DIR when they are there and writes them when they are not. A
second run on the same phase-1 data then starts at the speed of a later epoch.

Layout: `DIR/meta.json` names the base model (its id, dtype, the device type that computed the
keys/values and a hash of some of its weights, so a store made by another model, in another
precision or on another kind of device is refused: GPU kernels round differently from the CPU's), `DIR/ab/<sha256>.safetensors` holds one sequence's
keys and values (float16), named by a hash of the token ids and the masks that shape them.
Files are written to a temporary name and renamed, so an interrupted run leaves no half file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from saess.errors import InputError

FORMAT = 1


def lm_fingerprint(model) -> dict:
    """What makes the keys/values of `model`'s frozen LM: its id, its dtype, the device type it runs on
    and a hash of some of its weights."""
    h = hashlib.sha256()
    lin = [p for n, p in model.lm.named_parameters() if "lora_" not in n and p.dim() == 2]
    for p in (lin[:2] + lin[-2:]):  # embeddings, first layer, last layers
        h.update(p.detach()[:32].float().cpu().numpy().tobytes())
    return {"format": FORMAT, "base_model": model.config.base_model, "dtype": str(lin[0].dtype).removeprefix("torch."),
            "device": lin[0].device.type, "weights_sha256": h.hexdigest()}


def sequence_key(seq) -> str:
    """Hash of what the keys/values depend on: token ids and the content/response masks."""
    payload = json.dumps([seq.input_ids, [int(x) for x in seq.content], [int(x) for x in seq.is_response]])
    return hashlib.sha256(payload.encode()).hexdigest()


class KVStore:
    """Read and write keys/values of phase-1 sequences under `root` (see the module docstring)."""

    def __init__(self, root: str | Path, model):
        self.root = Path(root)
        want = lm_fingerprint(model)
        meta = self.root / "meta.json"
        if meta.exists():
            try:
                have = json.loads(meta.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise InputError(f"--kv-store {self.root}: meta.json is unreadable ({e})") from None
            if have != want:
                diff = ", ".join(f"{k} {str(have.get(k))[:12]!r} vs this run's {str(want[k])[:12]!r}"
                                 for k in want if have.get(k) != want[k])
                raise InputError(f"--kv-store {self.root}: made by another base model, precision or device "
                                 f"({diff}); use another folder")
        else:
            if self.root.exists() and not self.root.is_dir():
                raise InputError(f"--kv-store {self.root}: not a folder")
            self.root.mkdir(parents=True, exist_ok=True)
            meta.write_text(json.dumps(want, indent=2) + "\n")
        self.hits = 0
        self.writes = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, seq) -> tuple[torch.Tensor, torch.Tensor] | None:
        path = self._path(sequence_key(seq))
        if not path.exists():
            return None
        try:
            d = load_file(path)
        except (OSError, SafetensorError):
            return None  # a damaged file is recomputed (and rewritten)
        if set(d) != {"keys", "values"}:
            return None
        self.hits += 1
        return d["keys"], d["values"]

    def put(self, seq, kv: tuple[torch.Tensor, torch.Tensor]) -> None:
        path = self._path(sequence_key(seq))
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        save_file({"keys": kv[0].contiguous().cpu(), "values": kv[1].contiguous().cpu()}, tmp)
        os.replace(tmp, path)
        self.writes += 1
