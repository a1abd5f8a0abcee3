"""Turning text and chats into `[CLS]`-led token sequences, and batching them.

Layout of every sequence: `[CLS]` at index 0 (position id 0), then the model's usual
tokens (BOS if the tokenizer or the chat template adds one, the chat template, the
text). The other tokens keep the position ids they would have without `[CLS]` (starting
at 0), so the language model sees exactly what it saw before `[CLS]` existed.

Security: user-supplied text (prompts, responses, prefills) is always tokenized with
`split_special_tokens=True`, so typing "[CLS]" or "<|im_start|>" gives ordinary text
tokens. Only the chat template's own pieces are tokenized with special tokens parsed.
The chat template is rendered with sentinel strings in place of each message's content,
and the rendered string is split at the sentinels: template pieces on one side, content
pieces on the other. Content pieces are what `[CLS]` may attend to; template pieces
(role headers, system prompt, end-of-turn markers), BOS and PAD never are.

Batches are left-padded *after* `[CLS]`: `[CLS] PAD ... PAD BOS ...`, so `[CLS]` is at
index 0 of every row and of the KV cache, and new tokens are appended on the right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from saess.errors import InputError

CLS_TOKEN = "[CLS]"
IGNORE = -100
_SENTINEL = "\u2063SAESS{}\u2063"  # invisible separator: never produced by a chat template


@dataclass
class EncodedSequence:
    """One sequence, unpadded. All lists have the same length; index 0 is `[CLS]`."""

    input_ids: list[int]
    content: list[bool]  # user/response text (what [CLS] may attend to)
    is_response: list[bool]  # assistant-turn tokens (prefill included)
    labels: list[int]  # LM target per token, IGNORE where there is none
    cls_label: int = IGNORE  # 0 benign, 1 malicious, IGNORE unknown
    query_len: int = 0  # tokens before the response (including [CLS])

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class SafetyBatch:
    """Left-padded batch (padding sits between `[CLS]` and the rest). Shapes [B, T] or [B]."""

    input_ids: torch.Tensor  # long [B, T]
    position_ids: torch.Tensor  # long [B, T]; [CLS] and the first real token have 0
    valid: torch.Tensor  # bool [B, T], False on padding
    content: torch.Tensor  # bool [B, T]
    is_response: torch.Tensor  # bool [B, T]
    labels: torch.Tensor  # long [B, T]
    cls_labels: torch.Tensor  # long [B]
    extras: dict = field(default_factory=dict)

    def to(self, device) -> SafetyBatch:
        moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in self.__dict__.items()}
        return SafetyBatch(**moved)


def collate(seqs: list[EncodedSequence], pad_id: int) -> SafetyBatch:
    """Left-pad after `[CLS]`. Position ids count real tokens only, from 0."""
    T = max(len(s) for s in seqs)
    B = len(seqs)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    pos = torch.zeros((B, T), dtype=torch.long)
    valid = torch.zeros((B, T), dtype=torch.bool)
    content = torch.zeros((B, T), dtype=torch.bool)
    resp = torch.zeros((B, T), dtype=torch.bool)
    labels = torch.full((B, T), IGNORE, dtype=torch.long)
    for b, s in enumerate(seqs):
        n = len(s) - 1  # tokens after [CLS]
        start = T - n
        ids[b, 0] = s.input_ids[0]
        valid[b, 0] = True
        ids[b, start:] = torch.tensor(s.input_ids[1:])
        pos[b, start:] = torch.arange(n)
        valid[b, start:] = True
        content[b, start:] = torch.tensor(s.content[1:])
        resp[b, start:] = torch.tensor(s.is_response[1:])
        labels[b, start:] = torch.tensor(s.labels[1:])
    cls_labels = torch.tensor([s.cls_label for s in seqs], dtype=torch.long)
    return SafetyBatch(ids, pos, valid, content, resp, labels, cls_labels)


class ChatEncoder:
    """Encodes plain texts (labelled-text phase) and chats (alignment phase, inference).

    Args:
        tokenizer: a `transformers` tokenizer that already holds `[CLS]`.
        cls_token_id: the id of `[CLS]`.
        max_length: the longest sequence allowed, `[CLS]` included; longer input raises
            `InputError` rather than being cut (cutting a prompt could hide what it asks).
        system_prompt: optional system message put before every user turn.
    """

    def __init__(self, tokenizer, cls_token_id: int, max_length: int = 2048, system_prompt: str | None = None):
        self.tok = tokenizer
        self.cls_id = cls_token_id
        self.max_length = max_length
        self.system_prompt = system_prompt
        probe = tokenizer("a", add_special_tokens=True).input_ids
        self.bos_id = tokenizer.bos_token_id if (tokenizer.bos_token_id is not None and probe
                                                 and probe[0] == tokenizer.bos_token_id) else None
        self.has_template = getattr(tokenizer, "chat_template", None) is not None

    # --- pieces -----------------------------------------------------------------------
    def text_ids(self, text: str) -> list[int]:
        """User or model text: special-token strings stay text."""
        return self.tok(text, add_special_tokens=False, split_special_tokens=True).input_ids

    def template_ids(self, text: str) -> list[int]:
        """Chat-template text: its special tokens are real special tokens."""
        return self.tok(text, add_special_tokens=False, split_special_tokens=False).input_ids

    def _render(self, messages: list[dict], add_generation_prompt: bool) -> tuple[list[str], list[str]]:
        """Render with sentinels; returns (template pieces, contents) interleaved t0 c0 t1 c1 ... tn."""
        contents = [m["content"] for m in messages]
        masked = [{**m, "content": _SENTINEL.format(i)} for i, m in enumerate(messages)]
        text = self.tok.apply_chat_template(masked, tokenize=False, add_generation_prompt=add_generation_prompt)
        pieces: list[str] = []
        order: list[str] = []
        rest = text
        for i in range(len(messages)):
            s = _SENTINEL.format(i)
            if s not in rest:
                raise InputError("the chat template dropped or reordered a message; cannot locate its content")
            before, rest = rest.split(s, 1)
            pieces.append(before)
            order.append(contents[i])
        pieces.append(rest)
        return pieces, order

    def _messages(self, prompt: str) -> list[dict]:
        msgs = []
        if self.system_prompt:
            msgs.append({"role": "system", "content": self.system_prompt})
        msgs.append({"role": "user", "content": prompt})
        return msgs

    def _start(self, first_text: str) -> tuple[list[int], list[bool]]:
        """[CLS] and, where the tokenizer adds one and the template did not, BOS."""
        ids, content = [self.cls_id], [False]
        bos = self.tok.bos_token
        if self.bos_id is not None and not first_text.startswith(bos or "\0"):
            ids.append(self.bos_id)
            content.append(False)
        return ids, content

    # --- public -----------------------------------------------------------------------
    def encode_text(self, text: str, label: int = IGNORE) -> EncodedSequence:
        """Labelled-text phase: `[CLS] (BOS) text`; LM targets on every token that has a predecessor."""
        if not text or not text.strip():
            raise InputError("empty text")
        ids, content = self._start("")
        body = self.text_ids(text)
        ids += body
        content += [True] * len(body)
        labels = [IGNORE, IGNORE] + ids[2:]  # [CLS] and the first real token have no target
        return self._finish(ids, content, [False] * len(ids), labels, label, len(ids))

    def encode_chat(self, prompt: str, response: str | None = None, label: int = IGNORE,
                    prefill: str | None = None, close_response: bool = True,
                    prefill_ids: Sequence[int] | None = None) -> EncodedSequence:
        """Alignment phase and inference: query = template(user turn) + assistant header.

        With `response`, its tokens and the template's end-of-turn are LM targets (SFT).
        With `prefill` (inference), the prefix of the assistant turn is appended as
        response tokens with no target; generation continues after it. `prefill_ids`
        (a prefill defined in tokens, e.g. the first N tokens of an answer) are used as
        they are instead of tokenising `prefill`; they must be ordinary vocabulary ids.
        """
        if prefill_ids is not None:
            prefill_ids = self._check_ids(prefill_ids)
        if not prompt or not prompt.strip():
            raise InputError("empty prompt")
        msgs = self._messages(prompt)
        # The system prompt is not the user's content: [CLS] does not judge it.
        ids, content = self._query(msgs, [m["role"] == "user" for m in msgs])
        return self._with_response(ids, content, msgs, response, label, prefill, close_response, prefill_ids)

    def encode_messages(self, messages: Sequence[dict], prefill: str | None = None) -> EncodedSequence:
        """Inference on a conversation (OpenAI-style `messages`, the last one a user turn).

        Every message given here is the caller's content, so `[CLS]` judges all of them:
        user turns, earlier assistant turns (a caller can write them) and a system message
        the caller sent. The model's own `system_prompt` is added, unjudged, only when the
        conversation has no system message. Roles: system, user, assistant; the system
        message, if any, comes first; the last message is from the user.
        """
        msgs = []
        for i, m in enumerate(messages):
            role, text = m.get("role"), m.get("content")
            if role not in ("system", "user", "assistant"):
                raise InputError(f"messages[{i}].role: {role!r} is not one of system, user, assistant")
            if role == "system" and i != 0:
                raise InputError(f"messages[{i}]: a system message must come first")
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"messages[{i}].content: empty or not a string")
            msgs.append({"role": role, "content": text})
        if not msgs or msgs[-1]["role"] != "user":
            raise InputError("messages: the last message must be from the user")
        judged = [True] * len(msgs)
        if msgs[0]["role"] != "system" and self.system_prompt:
            msgs.insert(0, {"role": "system", "content": self.system_prompt})
            judged.insert(0, False)
        ids, content = self._query(msgs, judged)
        return self._with_response(ids, content, msgs, None, IGNORE, prefill, True, None)

    def _query(self, msgs: list[dict], judged: list[bool]) -> tuple[list[int], list[bool]]:
        """`[CLS]` (BOS) and the rendered conversation up to the assistant header; content flags
        True on the text of the messages marked `judged`."""
        if not self.has_template:
            raise InputError("the tokenizer has no chat template; use encode_text or set one")
        try:
            pieces, contents = self._render(msgs, add_generation_prompt=True)
        except InputError:
            raise
        except Exception as e:  # a template that rejects the conversation (roles, order) raises its own error
            raise InputError(f"the chat template rejected the messages: {' '.join(str(e).split())}") from None
        ids, content = self._start(pieces[0])
        for tpl, txt, judge in zip(pieces, contents + [None], judged + [False], strict=True):
            t = self.template_ids(tpl) if tpl else []
            ids += t
            content += [False] * len(t)
            if txt is not None:
                c = self.text_ids(txt)
                ids += c
                content += [judge] * len(c)
        return ids, content

    def _with_response(self, ids, content, msgs, response, label, prefill, close_response,
                       prefill_ids) -> EncodedSequence:
        query_len = len(ids)
        is_resp = [False] * query_len
        labels = [IGNORE] * query_len
        if response is not None or prefill is not None or prefill_ids:
            r_ids, r_content, r_labels = self._response(msgs, response, prefill, close_response, prefill_ids)
            ids += r_ids
            content += r_content
            is_resp += [True] * len(r_ids)
            labels += r_labels
        return self._finish(ids, content, is_resp, labels, label, query_len)

    def _check_ids(self, ids: Sequence[int]) -> list[int]:
        """Token ids given by the caller: integers of the vocabulary, none of them special (no `[CLS]`)."""
        out = []
        special = set(self.tok.all_special_ids) | {self.cls_id}
        n = len(self.tok)
        for i, t in enumerate(ids):
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < n:
                raise InputError(f"prefill_ids[{i}] = {t!r} is not a token id of this tokenizer (0..{n - 1})")
            if t in special:
                raise InputError(f"prefill_ids[{i}] = {t} is a special token; a prefill holds ordinary text tokens")
            out.append(int(t))
        return out

    def _response(self, msgs, response, prefill, close_response, prefill_ids=None):
        """Tokens of the assistant turn: prefill (no target), response text, end-of-turn."""
        ids: list[int] = []
        content: list[bool] = []
        labels: list[int] = []
        if prefill_ids or prefill:
            p = list(prefill_ids) if prefill_ids else self.text_ids(prefill)
            ids += p
            content += [True] * len(p)
            labels += [IGNORE] * len(p)
        if response is not None:
            r = self.text_ids(response)
            ids += r
            content += [True] * len(r)
            labels += r
            if close_response:
                end = self.end_of_turn_ids(msgs)
                ids += end
                content += [False] * len(end)
                labels += end
        return ids, content, labels

    def end_of_turn_ids(self, msgs=None) -> list[int]:
        """The template's assistant end-of-turn tokens (e.g. `<|im_end|>`), up to EOS."""
        msgs = msgs or self._messages("x")
        full, _ = self._render(msgs + [{"role": "assistant", "content": "y"}], add_generation_prompt=False)
        tail = self.template_ids(full[-1])
        eos = self.tok.eos_token_id
        if eos is not None and eos in tail:
            tail = tail[: tail.index(eos) + 1]
        elif eos is not None:
            tail = [eos]
        return tail

    def _finish(self, ids, content, is_resp, labels, label, query_len) -> EncodedSequence:
        if len(ids) > self.max_length:
            raise InputError(f"sequence of {len(ids)} tokens is longer than the context ({self.max_length})")
        return EncodedSequence(ids, content, is_resp, labels, label, query_len)
