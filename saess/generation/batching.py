"""Length-aware batching: rows of similar length decode together.

A left-padded batch costs every row the longest row's length (the prompt pass is
[B, T_max] and each decode step attends over T_max + step keys), so one long prompt in a
batch of short ones makes all of them pay for its padding. `length_batches` sorts rows
by length and closes a batch when the next row would be more than `max_ratio` times
(plus `slack` tokens) as long as the batch's shortest row, so the padding a row carries
is bounded by (max_ratio - 1) x its own length + slack.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_RATIO = 2.0
SLACK = 64


def fits(shortest: int, longest: int, max_ratio: float = MAX_RATIO, slack: int = SLACK) -> bool:
    """Whether rows of `shortest` and `longest` tokens may share a batch."""
    return longest <= max_ratio * shortest + slack


def length_batches(lengths: Sequence[int], batch_size: int, max_ratio: float = MAX_RATIO,
                   slack: int = SLACK) -> list[list[int]]:
    """Indices of `lengths` in batches of at most `batch_size`, by increasing length.

    Ties keep input order; a batch is closed early when the next row does not `fits` its
    shortest row. Every index appears in exactly one batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    out: list[list[int]] = []
    for i in order:
        if out and len(out[-1]) < batch_size and fits(lengths[out[-1][0]], lengths[i], max_ratio, slack):
            out[-1].append(i)
        else:
            out.append([i])
    return out
