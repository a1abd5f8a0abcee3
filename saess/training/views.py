"""Phase-1 texts cut the way `[CLS]` sees them at inference (docs/method.md, "what [CLS] judges").

While generating, `[CLS]` judges (rule 1) the query and the first r1 response tokens, or
(rules 2-3) a window of r response tokens, with every token's hidden state computed in its
full chat context. A phase-1 text "prompt + answer" seen whole is not that. These views
encode the chat as at inference and set the `content` flags (what `[CLS]` attends to in the
labelled-text phase mask) to exactly the judged tokens; the sequence is cut after the last
judged token, since nothing later is seen by `[CLS]` and no token sees `[CLS]` in phase 1.
"""

from __future__ import annotations

import random

from saess.model.tokens import IGNORE, ChatEncoder, EncodedSequence

WINDOW_SIZES = (5, 10, 20)


def query_view(enc: ChatEncoder, prompt: str, label: int) -> EncodedSequence:
    """`[CLS]` sees the user's query (the system prompt and template excluded), as at step 0."""
    return enc.encode_chat(prompt, label=label)


def response_view(enc: ChatEncoder, prompt: str, response: str, label: int, start: int, size: int,
                  with_query: bool) -> EncodedSequence:
    """`[CLS]` sees response tokens [start, start + size) (and the query when `with_query`: rule 1).

    `start` is clipped so that the window holds at least one response token.
    """
    seq = enc.encode_chat(prompt, response, label=label, close_response=False)
    q = seq.query_len
    n_resp = len(seq) - q
    if n_resp < 1:
        raise ValueError("empty response")
    start = max(0, min(start, n_resp - 1))
    cut = q + min(n_resp, start + size)
    content = [False] * cut
    if with_query:
        content[:q] = seq.content[:q]
    for i in range(q + start, cut):
        content[i] = seq.content[i]
    return EncodedSequence(seq.input_ids[:cut], content, seq.is_response[:cut], [IGNORE] * cut, label, q)


def response_views(enc: ChatEncoder, prompt: str, response: str, label: int, rng: random.Random,
                   windows: int = 2, r1: int = 10, sizes: tuple[int, ...] = WINDOW_SIZES,
                   max_start: int | None = None) -> list[EncodedSequence]:
    """A rule-1 view (query + first r1 tokens) and `windows` r-token windows at random offsets
    (starting within the first `max_start` response tokens when given)."""
    n_resp = len(enc.text_ids(response))
    out = [response_view(enc, prompt, response, label, 0, r1, with_query=True)]
    for _ in range(windows):
        size = rng.choice(sizes)
        last = max(1, n_resp - size + 1)
        start = rng.randrange(0, last if max_start is None else max(1, min(last, max_start + 1)))
        out.append(response_view(enc, prompt, response, label, start, size, with_query=False))
    return out
