"""Limits of `saess serve` (plain data: the CLI reads its defaults without importing the server stack)."""

from __future__ import annotations

from dataclasses import dataclass

from saess.errors import InputError
from saess.generation.batching import MAX_RATIO, SLACK


@dataclass
class ServeLimits:
    """What the server allows and how it batches."""

    max_batch_size: int = 8
    max_queue: int = 64  # queued requests (not yet in a batch); one more is a 429
    max_tokens: int = 1024  # the most new tokens one request may ask for
    batch_wait_s: float = 0.01  # an idle worker waits this long for requests arriving together
    max_ratio: float = MAX_RATIO  # length-aware batching (saess.generation.batching)
    slack: int = SLACK

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_queue", "max_tokens"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
