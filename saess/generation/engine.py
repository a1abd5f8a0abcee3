"""Generation with the safety signal: strategic attention and strategic decoding.

One decode loop over a KV cache whose slot 0 always holds `[CLS]`:

- The prompt pass encodes `[CLS] PAD.. query (prefill)` with the alignment mask:
  `[CLS]` judges the query; prefill tokens (the attacker's assistant-turn start) are
  response tokens, so they attend to `[CLS]` and are inside later windows.
- Each decode step feeds the new token; on a re-evaluation step it also feeds, in the
  same forward pass, one `[CLS]` position (position id 0) that attends only to the
  window chosen by rules 1-4 (and itself), and a second copy of the new token (same
  position id) that attends to the *new* `[CLS]` instead of the old one. The next token
  is chosen from that copy's logits, so it already sees the re-evaluated state (no
  one-step lag). Then the `[CLS]` K/V replace slot 0 of every layer and the extra slots
  are dropped (the token keeps the K/V of its first copy). Cost of a re-evaluation: two
  extra query positions against the cache (three with `recheck`: a second `[CLS]` that
  reads the query and the same window, which nothing attends to), nothing recomputed.
- The state machine per row (rules 1-3 and `reliance`/`tau`) runs on the host on B
  floats per re-evaluation.

`saess.generation.reference` holds the same computation without a cache (one forward
pass over a sequence in which every re-evaluation is an explicit `[CLS]` position); the
tests check that both agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from saess.errors import InputError
from saess.generation.config import SamplingConfig, StrategicConfig
from saess.model.masks import bool_to_float_mask
from saess.model.tokens import collate
from saess.model.window import check_sliding_window, drop_last_slots, unevicting_cache

logger = logging.getLogger(__name__)

# Row states of the rules in docs/method.md section 4.
MAL_INIT, BENIGN, SUSPECT, REFUSING, STOPPED = "malicious-query", "benign", "suspect", "refusing", "stopped"
# A malicious query judgement waiting for its confirmation (StrategicConfig.confirm): rule 1, output withheld.
CONFIRMING = "confirming"


@dataclass
class GenerationResult:
    prompt: str
    prefill: str | None
    response: str  # the whole assistant turn: prefill + generated text
    generated: str  # the generated part only
    num_tokens: int
    finish_reason: str  # "eos", "length", "refused" (high reliance), or a reason given by `on_step`
    p_malicious_query: float
    trace: list[dict] = field(default_factory=list)
    debug: dict | None = None

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "debug"}
        return d


class _Row:
    """Host-side state of one batch row."""

    def __init__(self, n_prefill: int):
        self.state = BENIGN
        self.S = -1  # response index where a benign start first looked malicious
        self.count = 0  # consecutive malicious re-evaluations
        self.forced: list[int] = []
        self.done = False
        self.finish = "length"
        self.n = n_prefill  # response tokens so far (prefill included)
        self.window_threshold = 0.0  # rules 2-3: set from the query judgement (window bands) when the row starts
        self.generated: list[int] = []
        self.trace: list[dict] = []
        self.dropped = 0  # leading generated tokens withheld, then dropped by a confirmed refusal
        self.emitted = 0  # generated tokens already passed to `on_step` (or dropped)

    @property
    def rule(self) -> int:
        """The window rule (docs/method.md section 4) of this row's next re-evaluation."""
        return 1 if self.state in (MAL_INIT, CONFIRMING) else 3 if self.state in (SUSPECT, REFUSING) else 2

    def drop_withheld(self) -> None:
        """Every token written so far stays out of the output (and out of `on_step`)."""
        self.dropped = self.emitted = len(self.generated)

    def refuse(self, finish: str = "refused") -> None:
        """End the row now with the fixed refusal; nothing it wrote is shown."""
        self.state, self.done, self.finish = STOPPED, True, finish
        self.drop_withheld()

    def release(self) -> list[int]:
        """Generated tokens that `on_step` may see now: none while a confirmation is pending."""
        if self.state == CONFIRMING:
            return []
        out = self.generated[self.emitted:]
        self.emitted = len(self.generated)
        return out


class SafeGenerator:
    """Generates with a `SafetyModel`. Stateless between calls; one call = one batch."""

    def __init__(self, model, strategic: StrategicConfig | None = None):
        self.model = model
        check_sliding_window(model.lm, model.config.max_length)
        self.cfg = (strategic or StrategicConfig()).for_model(model)
        tok = model.tokenizer
        self.tok = tok
        eos = {tok.eos_token_id} if tok.eos_token_id is not None else set()
        gen_eos = getattr(getattr(model.lm, "generation_config", None), "eos_token_id", None)
        if isinstance(gen_eos, int):
            eos.add(gen_eos)
        elif isinstance(gen_eos, list):
            eos.update(gen_eos)
        eos.update(model.encoder.end_of_turn_ids()[-1:])
        self.eos_ids = sorted(eos)
        self._guide = {sep: model.encoder.text_ids(sep + self.cfg.guide_text) for sep in ("", " ")}

    # ------------------------------------------------------------------------------------
    def generate(self, prompts: list[str | list[dict]], prefills: list[str | None] | None = None,
                 sampling: SamplingConfig | None = None, record: bool = False,
                 prefill_ids: list[Sequence[int] | None] | None = None,
                 on_step: Callable[[int, list[int | None]], Mapping[int, str] | None] | None = None,
                 on_row_done: Callable[[int, GenerationResult], None] | None = None) -> list[GenerationResult]:
        """One left-padded batch. `prefill_ids[i]`, when given, are the exact token ids the
        assistant turn starts with (a prefill defined in tokens); they replace the
        tokenisation of `prefills[i]`, which then is only the text reported (decoded from
        the ids when None). A prompt may be a conversation (a list of `{"role", "content"}`
        messages ending with a user turn; `ChatEncoder.encode_messages`).

        Callbacks (a server's hooks; both run on the calling thread):
        `on_step(step, tokens)` after every decode step: `tokens[b]` is the list of ids of row b
        that became visible at this step (the id it took; none while a confirmation withholds its
        tokens, all of them at once when the confirmation releases them) or None if the row was
        already done. It may return `{b: finish_reason}` to end
        rows now (a stop string was met, the client went away); an ended row leaves the
        batch's work when every row has ended, and costs one padded position per step until
        then. `on_row_done(b, result)` once per row, as soon as the row is done.
        """
        sp = sampling or SamplingConfig()
        cfg = self.cfg
        m = self.model
        prefills = list(prefills or [None] * len(prompts))
        prefill_ids = list(prefill_ids or [None] * len(prompts))
        if len(prefills) != len(prompts) or len(prefill_ids) != len(prompts):
            raise InputError("prefills, prefill_ids and prompts differ in length")
        for i, ids in enumerate(prefill_ids):
            if ids is not None and prefills[i] is None:
                prefills[i] = self.tok.decode(list(ids))
        seqs = [m.encoder.encode_messages(p, prefill=f or None) if isinstance(p, list) and ids is None
                else m.encoder.encode_chat(p, prefill=f or None, prefill_ids=ids)
                for p, f, ids in zip(prompts, prefills, prefill_ids, strict=True)]
        longest = max(len(s) for s in seqs) + sp.max_new_tokens  # forced guide tokens count as new tokens
        if longest > m.config.max_length:
            raise InputError(f"prompt, prefill and max_new_tokens ({longest} tokens) exceed the context "
                             f"({m.config.max_length})")
        batch = collate(seqs, self.tok.pad_token_id).to(m.device)
        B = len(seqs)
        dev = m.device
        signal = cfg.reliance != "off"
        reads = signal and cfg.lm_reads_cls  # generated tokens attend to the [CLS] state
        recheck = signal and cfg.rechecks  # window verdicts are looked at again with the query
        if reads and m.config.members > 1:
            raise InputError(f"this model is an ensemble of {m.config.members} [CLS] classifiers: generated tokens "
                             "cannot read one [CLS] state (lm_reads_cls must be off)")
        processors = self._processors(sp)
        gen = torch.Generator(device=dev).manual_seed(sp.seed) if sp.do_sample else None

        # Slot bookkeeping, grown by one column per step: valid, content, response index.
        valid = batch.valid.clone()
        content = batch.content.clone()
        resp_idx = torch.where(batch.is_response, batch.is_response.long().cumsum(1) - 1,
                               torch.full_like(batch.input_ids, -1))
        is_query_content = batch.content & ~batch.is_response

        # --- prompt pass ---
        mask = m.phase_mask(batch, "align", signal=reads)
        with torch.no_grad():
            logits, hidden, cache = m.run(batch.input_ids, batch.position_ids, mask, cache=unevicting_cache(),
                                          use_cache=True, logits_to_keep=1)
            p0 = m.head(hidden[:, 0]).float().softmax(-1)[:, 1]
            band_p = None  # the query score the window bands read, when it is not p0 (query-only members)
            if m.config.members > 1:  # the other classifiers read the query too
                reads_query = batch.valid & batch.content & ~batch.is_response
                reads_query[:, 0] = False
                p0, band_p = self._query_members_mean(cache, reads_query, p0)
                band_p = band_p.tolist() if band_p is not None else None
            p0 = p0.tolist()
        next_logits = logits[:, -1].float()
        next_pos = batch.position_ids[:, -1] + 1
        rows = [_Row(int(batch.is_response[b].sum())) for b in range(B)]
        dbg = {"steps": [], "evals": []} if record else None
        for b, r in enumerate(rows):
            r.window_threshold = cfg.window_threshold_for(p0[b] if band_p is None else band_p[b])
            mal = p0[b] >= cfg.threshold
            r.trace.append({"step": 0, "window": "query", "p_malicious": round(p0[b], 6),
                            "decision": "malicious" if mal else "benign", "rule": 1 if mal else 2})
            if band_p is not None:  # the window members' own query score, which the window bands read
                r.trace[-1]["p_window_members"] = round(band_p[b], 6)
            if signal and mal:
                r.state = MAL_INIT
                if cfg.confirms(p0[b]):
                    r.state = CONFIRMING  # act only when the first r1 response tokens agree
                    r.trace[-1]["confirm"] = "pending"
                elif cfg.reliance == "medium":
                    r.forced = list(self._guide[" " if r.n else ""])
                    r.trace[-1]["inserted_guide_at"] = r.n  # response index: after the prefill
                elif cfg.reliance == "high":
                    r.state, r.done, r.finish = STOPPED, True, "refused"
        pad = self.tok.pad_token_id
        cls_id = m.config.cls_token_id
        V = next_logits.shape[-1]
        if cls_id < V:
            next_logits[:, cls_id] = float("-inf")
        reported = [False] * B

        def report() -> None:
            if on_row_done is None:
                return
            for b, r in enumerate(rows):
                if r.done and not reported[b]:
                    reported[b] = True
                    on_row_done(b, self._result(prompts[b], prefills[b], p0[b], r))

        report()
        if record:
            # the next-token logits after the prompt pass ([B, V]; after every step they are in
            # "steps"[k]["logits"]), `[CLS]` excluded, before any sampling processor
            dbg["first_logits"] = next_logits.clone()

        for step in range(1, sp.max_new_tokens + 1):
            if all(r.done for r in rows):
                break
            # --- choose tokens ---
            scores = processors(None, next_logits) if processors else next_logits
            if sp.do_sample:
                chosen = torch.multinomial(scores.softmax(-1), 1, generator=gen).squeeze(1)
            else:
                chosen = scores.argmax(-1)
            chosen = chosen.tolist()
            tok_valid = []
            for b, r in enumerate(rows):
                if r.done:
                    chosen[b] = pad
                    tok_valid.append(False)
                    continue
                if r.forced:
                    chosen[b] = r.forced.pop(0)
                r.generated.append(chosen[b])
                r.n += 1
                tok_valid.append(True)
                if chosen[b] in self.eos_ids and not sp.ignore_eos and not r.forced:
                    r.done, r.finish = True, "eos"
                    if r.state == CONFIRMING:  # ended before its confirmation: the query judgement stands
                        self._unconfirmed(r, step)
            evaluate = signal and cfg.evaluates_at(step)
            tok_t = torch.tensor(chosen, device=dev)[:, None]
            tv = torch.tensor(tok_valid, device=dev)[:, None]
            valid = torch.cat([valid, tv], 1)
            content = torch.cat([content, tv & ~_is_in(tok_t, self.eos_ids)], 1)
            resp_idx = torch.cat([resp_idx, torch.tensor([r.n - 1 for r in rows], device=dev)[:, None]], 1)
            is_query_content = torch.cat([is_query_content, torch.zeros_like(tv)], 1)
            K = valid.shape[1]  # keys incl. this token
            tok_row = valid.clone()
            tok_row[:, 0] = reads
            tok_row[:, -1] = True
            if evaluate:
                # three query rows: the token (old [CLS]), the new [CLS] (its window), the token
                # again (new [CLS] instead of old; itself instead of its first copy); with
                # `recheck`, a fourth before the copy: a second [CLS] reading the query and the
                # same window, whose state nothing keeps (only its P(malicious) is used)
                window = self._window(rows, is_query_content, content & valid, resp_idx)
                # rows whose new [CLS] reads the answer alone (rules 2-3): the window [CLS], when the model has one
                win_rows = torch.tensor([r.rule != 1 for r in rows], device=dev) if m.window_head is not None else None
                window[:, 0] = False  # the old [CLS] state is not a key of the new one
                dup_row = tok_row.clone()
                dup_row[:, 0] = False
                dup_row[:, -1] = False
                cls_t = torch.full_like(tok_t, cls_id)
                zero = torch.zeros_like(next_pos)
                # the judgements of this step: the window, and with `recheck` the look (the query + the window)
                reads_of = [window]
                if recheck:
                    look = window | is_query_content
                    look[:, 0] = False
                    reads_of.append(look)
                n = len(reads_of)
                # an ensemble's other members judge the same views in this pass: (members - 1) x n more [CLS]
                # positions before the token's copy, each reading its view and itself (docs/model.md, "Ensembles")
                M = (m.config.members - 1) * n
                own = torch.eye(n + M, dtype=torch.bool, device=dev)
                no1 = torch.zeros(B, 1, dtype=torch.bool, device=dev)
                rows_ = [torch.cat([tok_row, torch.zeros(B, n + M, dtype=torch.bool, device=dev), no1], 1)]
                for j in range(n + M):
                    rows_.append(torch.cat([reads_of[j % n], own[j].expand(B, n + M), no1], 1))
                first_cls = torch.zeros(B, n + M, dtype=torch.bool, device=dev)
                first_cls[:, 0] = reads  # the token's copy reads the new [CLS] when the LM reads it
                rows_.append(torch.cat([dup_row, first_cls, ~no1], 1))
                allowed = torch.stack(rows_, 1)
                ids = torch.cat([tok_t, cls_t.expand(B, n + M), tok_t], 1)
                pos = torch.cat([next_pos[:, None], zero[:, None].expand(B, n + M), next_pos[:, None]], 1)
                cls_mask = ids == cls_id
                cls_mask[:, 0] = cls_mask[:, -1] = False
                cls_member = None
                if M:
                    cls_member = torch.zeros_like(ids)
                    cls_member[:, 1 + n:1 + n + M] = (torch.arange(M, device=dev) // n + 1)
                cls_window = None
                if win_rows is not None:
                    cls_window = torch.zeros_like(cls_mask)
                    cls_window[:, 1] = win_rows
            else:
                allowed = tok_row[:, None]
                ids, pos, cls_mask, cls_window, cls_member = tok_t, next_pos[:, None], None, None, None
            step_mask = bool_to_float_mask(allowed[:, None], m.dtype)
            with torch.no_grad():
                logits, hidden, cache = m.run(ids, pos, step_mask, cache=cache, use_cache=True, cls_mask=cls_mask,
                                              cls_window=cls_window, cls_member=cls_member)
            next_logits = logits[:, -1].float()  # the token's copy that saw the new [CLS], if any
            if cls_id < V:
                next_logits[:, cls_id] = float("-inf")
            next_pos = next_pos + tv[:, 0].long()
            if record:
                dbg["steps"].append({"tokens": chosen, "valid": tok_valid, "logits": next_logits.clone()})
            if evaluate:
                with torch.no_grad():
                    p = m.head(hidden[:, 1], window=win_rows).float().softmax(-1)[:, 1]
                    p_look = m.head(hidden[:, 2], recheck=True).float().softmax(-1)[:, 1] if recheck else None
                    if M:  # the mean over the members of each judgement
                        answer_alone = (torch.tensor([r.rule != 1 for r in rows], device=dev)
                                        if m.has_query_only_members else None)
                        p, *rest = self._mean_over_members(hidden[:, 1 + n:1 + n + M], [p, p_look][:n],
                                                           answer_alone)
                        p_look = rest[0] if recheck else None
                _replace_cls_slot(cache, src=-(n + M + 1), drop=n + M + 1)
                p = p.tolist()
                p_look = p_look.tolist() if recheck else None
                if record:
                    dbg["evals"].append({"step": step, "window": window.clone(), "p": p, "K": K, "p_look": p_look,
                                         "look": look.clone() if recheck else None})
                self._update_rows(rows, p, step, window, resp_idx, p_look)
            if on_step is not None:
                ended = on_step(step, [r.release() if ok else None for r, ok in zip(rows, tok_valid, strict=True)])
                for b, reason in (ended or {}).items():
                    r = rows[b]
                    if r.done:
                        continue
                    if r.state == CONFIRMING and reason == "length":  # its budget ended before the confirmation
                        self._unconfirmed(r, step)
                        continue
                    if r.state == CONFIRMING:  # ended for another reason (a client gone): nothing is shown
                        r.drop_withheld()
                    r.done, r.finish, r.forced = True, reason, []
            report()
        for r in rows:
            if r.state == CONFIRMING and not r.done:  # the budget ran out before the confirmation
                self._unconfirmed(r, sp.max_new_tokens)
            r.done = True
        report()
        results = [self._result(prompts[b], prefills[b], p0[b], r) for b, r in enumerate(rows)]
        if record:
            dbg["batch"] = batch
            dbg["eos_ids"] = list(self.eos_ids)
            for res in results:
                res.debug = dbg
        return results

    @torch.no_grad()
    def _query_members_mean(self, cache, reads: torch.Tensor, p0: torch.Tensor
                            ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """An ensemble's query judgement (docs/model.md, "Ensembles"): member 0 has judged in the prompt pass (`p0`,
        P(malicious) [B]); the other members judge the same query in one pass of `members - 1` `[CLS]` positions
        (position id 0, each with its member's embedding and adapter: `run(cls_member=...)`) over `cache`, each
        reading the keys `reads` (bool [B, keys in cache]) and itself; they are then dropped from the cache (nothing
        attends to them). Returns the mean P, and with query-only members (`SafetyConfig.window_members`) the mean of
        the window members, which the window bands read (they belong to the window judgement; else None)."""
        m = self.model
        B, slots = reads.shape[0], m.config.members - 1
        own = torch.eye(slots, dtype=torch.bool, device=m.device)
        allowed = torch.stack([torch.cat([reads, own[j].expand(B, slots)], 1) for j in range(slots)], 1)
        ids = torch.full((B, slots), m.config.cls_token_id, device=m.device)
        member = (torch.arange(slots, device=m.device) + 1).expand(B, slots)
        _, hidden, cache = m.run(ids, torch.zeros_like(ids), bool_to_float_mask(allowed[:, None], m.dtype),
                                 cache=cache, use_cache=True, logits_to_keep=1,
                                 cls_mask=torch.ones_like(ids, dtype=torch.bool), cls_member=member)
        drop_last_slots(cache, slots)
        ps = [p0]  # each member's P once; both means are read from them
        for k in range(1, m.config.members):
            with m.member(k):
                ps.append(m.head(hidden[:, k - 1]).float().softmax(-1)[:, 1])
        window = ps[:m.window_member_count]
        return sum(ps[1:], ps[0]) / len(ps), (sum(window[1:], window[0]) / len(window)
                                               if m.has_query_only_members else None)

    def _mean_over_members(self, hidden: torch.Tensor, first: list[torch.Tensor],
                           answer_alone: torch.Tensor | None = None) -> list[torch.Tensor]:
        """`hidden` [B, (members - 1) * n, H]: members 1.. in order, each with n judgements (i = 1: the recheck's
        look); `first`: member 0's P per judgement. Returns the members' mean P per judgement; `answer_alone` (bool
        [B]): the rows whose judgement 0 reads the answer alone (rules 2-3), averaged over the first
        `window_members` only (`SafetyConfig.window_members`; the look holds the query: every member)."""
        m, n = self.model, len(first)
        total, count = [p.clone() for p in first], [1.0] * n
        for k in range(1, m.config.members):
            with m.member(k):
                for i in range(n):
                    pk = m.head(hidden[:, (k - 1) * n + i], recheck=i == 1).float().softmax(-1)[:, 1]
                    wk = m.member_weight(k, answer_alone if i == 0 else None)
                    total[i], count[i] = total[i] + pk * wk, count[i] + wk
        return [t / c for t, c in zip(total, count, strict=True)]

    @staticmethod
    def _unconfirmed(r: _Row, step: int) -> None:
        """A row that ends while its confirmation is pending gets the fixed refusal."""
        r.refuse()
        r.trace[0].update({"confirm": "not reached", "ended_at": step, "withheld": r.dropped})

    def _result(self, prompt, prefill, p0: float, r: _Row) -> GenerationResult:
        gen_ids = [t for t in r.generated[r.dropped:] if t not in self.eos_ids]
        text = self.tok.decode(gen_ids, skip_special_tokens=True)
        if r.finish == "refused":
            response, text = self.cfg.refusal_text, self.cfg.refusal_text
        else:
            response = (prefill or "") + text
        return GenerationResult(prompt, prefill, response, text, len(r.generated), r.finish, p0, list(r.trace))

    # ------------------------------------------------------------------------------------
    def _processors(self, sp: SamplingConfig):
        if not sp.do_sample:
            return None
        from transformers import (
            LogitsProcessorList,
            TemperatureLogitsWarper,
            TopKLogitsWarper,
            TopPLogitsWarper,
        )

        procs = LogitsProcessorList()
        if sp.temperature != 1.0:
            procs.append(TemperatureLogitsWarper(sp.temperature))
        if sp.top_k:
            procs.append(TopKLogitsWarper(sp.top_k))
        if sp.top_p < 1.0:
            procs.append(TopPLogitsWarper(sp.top_p))
        return procs

    def _window(self, rows, is_query_content, content, resp_idx) -> torch.Tensor:
        """Keys `[CLS]` attends to now, per row (rules 1-4). bool [B, K]."""
        cfg = self.cfg
        n = torch.tensor([r.n for r in rows], device=resp_idx.device)[:, None]
        S = torch.tensor([r.S for r in rows], device=resp_idx.device)[:, None]
        rule = torch.tensor([r.rule for r in rows], device=resp_idx.device)[:, None]
        is_resp = resp_idx >= 0
        r1 = is_query_content | (is_resp & (resp_idx < cfg.r1))
        r2 = is_resp & (resp_idx >= n - cfg.r2)
        r3 = is_resp & (resp_idx >= S - cfg.r2) & (resp_idx <= S + cfg.r3)
        w = torch.where(rule == 1, r1, torch.where(rule == 2, r2, r3))
        return w & content  # rule 4: no PAD, BOS, template or EOS tokens

    def _update_rows(self, rows, p, step, window, resp_idx, p_look=None) -> None:
        cfg = self.cfg

        def released(r: _Row, b: int, entry: dict) -> bool:
            """`recheck`: a window verdict about to act is a false trigger when the query + that window
            score below `cfg.recheck` (the row goes back to rule 2)."""
            if p_look is None:
                return False
            entry["recheck"] = round(p_look[b], 6)
            if p_look[b] >= cfg.recheck:
                return False
            r.state, r.S, r.count = BENIGN, -1, 0
            entry["false_trigger"] = True
            return True

        for b, r in enumerate(rows):
            # rule 1 still reads the query; rules 2-3 read the answer alone (their own threshold)
            rule = r.rule
            thr = cfg.threshold if rule == 1 else r.window_threshold
            mal = p[b] >= thr
            sel = resp_idx[b][window[b]]
            resp_sel = sel[sel >= 0]
            win = [int(resp_sel.min()), int(resp_sel.max())] if len(resp_sel) else []
            if rule == 1:
                win = ["query"] + win
            entry = {"step": step, "window": win, "p_malicious": round(p[b], 6),
                     "decision": "malicious" if mal else "benign", "rule": rule}
            if r.done:
                continue
            if r.state == CONFIRMING:
                if r.n >= cfg.r1:  # the window holds the query and r1 response tokens: this one decides
                    entry["confirm"] = "malicious" if mal else "benign"
                    if not mal:
                        r.state = BENIGN
                    else:
                        if cfg.reliance == "medium":  # the guide starts the visible response, after the prefill
                            r.state = MAL_INIT
                            r.drop_withheld()
                            r.forced = list(self._guide[" " if r.n - r.dropped else ""])
                            entry["inserted_guide_at"] = r.n
                        else:  # high
                            r.refuse()
                        entry["withheld"] = r.dropped
                r.trace.append(entry)
                continue
            if r.state == BENIGN and mal:
                r.state, r.S, r.count = SUSPECT, r.n - 1, 1
                if cfg.reliance == "high" and not cfg.high_waits_for_tau and not released(r, b, entry):
                    r.state, r.done, r.finish = STOPPED, True, "refused"  # the paper: stop at once
            elif r.state == SUSPECT:
                if mal:
                    r.count += 1
                else:  # a false trigger (a keyword, say): back to the sliding window
                    r.state, r.S, r.count = BENIGN, -1, 0
                    entry["false_trigger"] = True
            if r.state == SUSPECT and r.count >= cfg.tau and not released(r, b, entry):
                if cfg.reliance == "medium":
                    r.state = REFUSING
                    r.forced = list(self._guide[" "])
                    entry["inserted_guide_at"] = r.n
                elif cfg.reliance == "high":
                    r.state, r.done, r.finish = STOPPED, True, "refused"
            r.trace.append(entry)


def _is_in(t: torch.Tensor, ids: list[int]) -> torch.Tensor:
    return torch.isin(t, torch.tensor(ids, device=t.device)) if ids else torch.zeros_like(t, dtype=torch.bool)


def _replace_cls_slot(cache, src: int = -1, drop: int = 1) -> None:
    """Move the K/V of the just-evaluated `[CLS]` (slot `src`, from the end) into slot 0 and drop the last `drop` slots."""
    for layer in cache.layers:
        for name in ("keys", "values"):
            t = getattr(layer, name)
            t[:, :, 0] = t[:, :, src]
    drop_last_slots(cache, drop)
