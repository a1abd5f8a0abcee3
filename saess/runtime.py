"""Shared helpers low in the package (they import nothing of saess but `saess.errors`).

- `DTYPES` / `torch_dtype(name)`: the dtype names every command accepts, written once.
- `resolve_device(arg)`: the device to use (`cuda` when available unless one is given).
- `error_text(e)`: one line for a failure recorded next to a result (a `SaessError`'s own
  message; anything else with its type name).
- `batch_then_one_by_one(fn, items)`: call `fn` once on a batch; if it raises, once per
  item, so one bad item fails alone (used by `saess generate`, the eval runner and the
  training pipeline's retain set).
- `AtomicJsonl`: JSON lines written to `path.part`, renamed to `path` on success.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from saess.errors import InputError, SaessError

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DEFAULT_DTYPE = "float32"


def torch_dtype(name: str | torch.dtype) -> torch.dtype:
    """`float32` / `bfloat16` / `float16` (or a torch dtype, passed through) -> the torch dtype."""
    if isinstance(name, torch.dtype):
        return name
    try:
        return DTYPES[name]
    except KeyError:
        raise InputError(f"unknown dtype {name!r}; expected one of {', '.join(DTYPES)}") from None


def resolve_device(arg: str | None) -> str:
    """`arg` when given, else `cuda` when a GPU is visible, else `cpu`."""
    if arg:
        return arg
    return "cuda" if torch.cuda.is_available() else "cpu"


def error_text(e: BaseException) -> str:
    """One line describing a failure: a SaessError's message, else `Type: message`."""
    text = str(e) if isinstance(e, SaessError) else f"{type(e).__name__}: {e}"
    return " ".join(text.split()) or type(e).__name__


@dataclass
class Outcome:
    """What became of one item: its result, or the one-line error; seconds spent on it."""

    result: Any = None
    error: str | None = None
    seconds: float = 0.0


def batch_then_one_by_one(fn: Callable[[list], Sequence], items: Sequence,
                          retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
                          on_batch_error: Callable[[BaseException], None] | None = None) -> list[Outcome]:
    """One `Outcome` per item, in order.

    `fn(list_of_items)` must return one result per item. It is called once with all the
    items; if that raises `retry_on`, it is called once per item and an item that still
    raises `retry_on` gets its `error_text` (other exceptions propagate). A batch's time
    is shared equally among its items. `on_batch_error(e)` is told when a batch of more
    than one item failed (for a log line).
    """
    items = list(items)
    t0 = time.perf_counter()
    try:
        results = list(fn(items))
    except retry_on as e:
        if len(items) > 1 and on_batch_error is not None:
            on_batch_error(e)
        out = []
        for item in items:
            t1 = time.perf_counter()
            try:
                (r,) = fn([item])
            except retry_on as e1:
                out.append(Outcome(None, error_text(e1), time.perf_counter() - t1))
            else:
                out.append(Outcome(r, None, time.perf_counter() - t1))
        return out
    if len(results) != len(items):
        raise RuntimeError(f"batch call returned {len(results)} results for {len(items)} items")
    dt = (time.perf_counter() - t0) / max(len(items), 1)
    return [Outcome(r, None, dt) for r in results]


class AtomicJsonl:
    """Write JSON lines to `path.part`, renamed to `path` on success; stdout when path is None.

    A failed run never truncates or corrupts an output file that already existed.
    """

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.tmp = self.path.with_name(self.path.name + ".part") if self.path else None
        self.f = None

    def __enter__(self):
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.f = open(self.tmp, "w", encoding="utf-8")
        else:
            self.f = sys.stdout
        return self

    def write(self, obj: dict) -> None:
        self.f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.f.flush()

    def __exit__(self, exc_type, exc, tb):
        if self.path:
            self.f.close()
            if exc_type is None:
                os.replace(self.tmp, self.path)
            else:
                self.tmp.unlink(missing_ok=True)
        return False
