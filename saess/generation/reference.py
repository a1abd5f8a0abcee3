"""The cache-free definition of strategic attention, for parity tests and for reading.

`recompute` rebuilds one row of a recorded `SafeGenerator.generate(record=True)` call
from what is given, not from what the engine decided: the prompt (the recorded batch
row) and the tokens the row wrote (the recorded tokens, forced guide tokens included).
Everything else is derived here again, written the way docs/method.md states it:

- when `[CLS]` is re-evaluated (`StrategicConfig.evaluates_at`);
- its window at each re-evaluation, from rules 1-4 and the row's state, which follows
  this function's *own* decisions (`decide(k, p)`; by default p >= threshold);
- the logits of every step, from one forward pass without a KV cache over a sequence in
  which every re-evaluation is explicit: after the token of step s come a `[CLS]`
  position (position id 0), with `recheck` a second `[CLS]` that reads the query and the
  same window (no later position attends to it), and a second copy of that token (same
  position id), so

  - prompt tokens: the alignment-phase mask (`[CLS]` judges query content; only
    response tokens, i.e. the prefill, attend to it);
  - the token of step s: causal over all earlier tokens (no `[CLS]` and no second
    copies), plus the latest `[CLS]` state before it;
  - the re-evaluated `[CLS]` at step s: its window and itself;
  - the second copy of token s: the same as token s, but with the new `[CLS]` state in
    place of the old one and itself in place of token s. The next token is predicted
    from it (the engine must not lag one step behind a re-evaluation).

Decisions depend on `p`, and `p` on earlier decisions, so the function runs one forward
pass per re-evaluation over the sequence so far (every row of the mask looks only at
earlier positions or at its window, so a prefix pass gives the same values), then one
over the whole sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from saess.generation.config import StrategicConfig
from saess.model.masks import bool_to_float_mask, build_cls_mask


@dataclass
class Reference:
    logits: list[torch.Tensor]  # per step: the next-token logits after it [V] (`[CLS]` excluded)
    stale_logits: dict[int, torch.Tensor]  # per re-evaluation step: the token's logits against the *old* [CLS]
    p: list[float]  # P(malicious) per re-evaluation, raw head
    trace: list[dict] = field(default_factory=list)  # step, rule, window ("query" and response indices), decision
    real: list[int] = field(default_factory=list)  # indices of steps whose token was a real token of this row
    stopped_at: int | None = None  # under "high": the step after which the row stops
    p_look: list[float] = field(default_factory=list)  # with `recheck`: P(malicious) of the query + window, per re-evaluation


@torch.no_grad()
def recompute(model, debug: dict, row: int, cfg: StrategicConfig,
              decide: Callable[[int, float], bool] | None = None, ignore_eos: bool = False) -> Reference:
    """Recompute row `row` of a recorded generation (see the module docstring).

    ignore_eos: the sampling setting of the call (an EOS token ends the row unless set).
    decide(k, p): whether re-evaluation k (0 = the query judgement) says malicious;
        default p >= cfg.threshold (resolved for the model).
    """
    cfg = cfg.for_model(model)
    decide = decide or (lambda _k, p: p >= cfg.threshold)
    signal = cfg.reliance != "off"
    reads = signal and cfg.lm_reads_cls  # generated tokens attend to the [CLS] state
    batch = debug["batch"]
    eos = set(debug["eos_ids"])
    cls_id = model.config.cls_token_id
    P = batch.input_ids.shape[1]
    b = row

    # --- the prompt, as encoded ---
    ids = batch.input_ids[b].tolist()
    pos = batch.position_ids[b].tolist()
    valid = batch.valid[b].tolist()
    is_cls = [True] + [False] * (P - 1)
    is_window = [False] * P  # `[CLS]` positions that read the answer alone (rules 2-3): the window [CLS]
    query_content = [i for i in range(P) if batch.valid[b, i] and batch.content[b, i] and not batch.is_response[b, i]]
    # response tokens: (extended index, is content), in order; the prefill first
    response = [(i, bool(batch.content[b, i])) for i in range(P) if batch.valid[b, i] and batch.is_response[b, i]]
    prompt_allowed = build_cls_mask(batch.valid[b:b + 1], (batch.content & ~batch.is_response)[b:b + 1],
                                    batch.is_response[b:b + 1] if reads else torch.zeros_like(batch.valid[b:b + 1]),
                                    dtype=torch.float32)[0, 0] == 0
    rows: list[tuple[str, int, object]] = []  # rows after the prompt: (kind, index, keys or latest [CLS])

    def run(upto: int):
        N = len(ids)
        allowed = torch.zeros(N, N, dtype=torch.bool)
        allowed[:P, :P] = prompt_allowed.cpu()
        for kind, i, data in rows:
            if i >= upto:
                break
            allowed[i, i] = True
            if kind == "cls":
                allowed[i, data] = True
                continue
            earlier = [j for j in range(i) if valid[j] and not is_cls[j] and j not in copies]
            if kind == "copy":
                earlier = [j for j in earlier if j != first[i]]  # not its first copy
            allowed[i, earlier] = True
            if reads:
                allowed[i, data] = True
        n = upto
        mask = bool_to_float_mask(allowed[None, None, :n, :n], model.dtype).to(model.device)
        out = model.run(torch.tensor([ids[:n]], device=model.device), torch.tensor([pos[:n]], device=model.device),
                        mask, cls_mask=torch.tensor([is_cls[:n]], device=model.device),
                        cls_window=torch.tensor([is_window[:n]], device=model.device))
        return out[0], out[1]

    def head_p(hidden, recheck: bool = False, window: bool = False) -> float:
        hooks = model.safety_logit_hook, model.recheck_logit_hook
        model.safety_logit_hook = model.recheck_logit_hook = None
        try:
            return float(model.head(hidden[None], recheck=recheck, window=torch.tensor([window])
                                    ).float().softmax(-1)[0, 1])
        finally:
            model.safety_logit_hook, model.recheck_logit_hook = hooks

    def judge(upto: int, picks: list[tuple[int, bool, bool]]) -> list[float]:
        """P(malicious) of the `[CLS]` positions `picks` (index, recheck, window) of a prefix pass; for an
        ensemble (docs/model.md, "Ensembles") the members' mean, each member in a pass of its own."""
        total, count = [0.0] * len(picks), [0] * len(picks)
        for k in range(model.config.members):
            with model.member(k):
                _, hidden = run(upto)
                for i, (index, rc, w) in enumerate(picks):
                    wk = model.member_weight(k, w)  # 0: a query-only member on the answer alone
                    if wk:
                        total[i] += wk * head_p(hidden[0, index], recheck=rc, window=w)
                        count[i] += wk
        return [t / c for t, c in zip(total, count, strict=True)]

    copies: set[int] = set()
    first: dict[int, int] = {}  # second copy -> first copy of the same token
    recheck = signal and cfg.rechecks
    (p0,) = judge(P, [(0, False, False)])
    k = 0
    malicious_query = decide(0, p0)
    confirm = signal and malicious_query and cfg.confirms(p0)
    state = "confirm" if confirm else "rule1" if malicious_query and signal else "rule2"
    S, count, acted, stopped = -1, 0, False, False
    ref = Reference([], {}, [], [{"step": 0, "window": "query", "decision": "malicious" if malicious_query
                                  else "benign", "rule": 1 if malicious_query else 2}])
    if signal and malicious_query and cfg.reliance == "high" and not confirm:
        stopped, ref.stopped_at = True, 0
    latest_cls = 0
    finished = False
    token_rows: list[int] = []  # per step: the index of the row whose logits predict the next token
    stale: dict[int, int] = {}
    next_pos = int(batch.position_ids[b, -1]) + 1
    for s, st in enumerate(debug["steps"], start=1):
        t, real = st["tokens"][b], st["valid"][b]
        ids.append(t)
        pos.append(next_pos)
        valid.append(real)
        is_cls.append(False)
        is_window.append(False)
        i = len(ids) - 1
        rows.append(("tok", i, latest_cls))
        token_rows.append(i)
        if real:
            ref.real.append(s - 1)
            response.append((i, t not in eos))
            next_pos += 1
            finished = t in eos and not ignore_eos
        if not (signal and cfg.evaluates_at(s)):
            continue
        # --- the window, rules 1-4, counted in response tokens (index 0 = first prefill token) ---
        n = len(response)
        rule1 = state in ("rule1", "confirm")  # a pending confirmation reads the rule-1 window
        if rule1:
            lo, hi, keys = 0, cfg.r1 - 1, list(query_content)
        elif state == "rule2":
            lo, hi, keys = n - cfg.r2, n - 1, []
        else:
            lo, hi, keys = S - cfg.r2, S + cfg.r3, []
        picked = [r for r, (j, content) in enumerate(response) if lo <= r <= hi and content]
        keys += [response[r][0] for r in picked]  # rule 4: content only (no PAD, BOS, template, EOS)
        ids.append(cls_id)
        pos.append(0)
        valid.append(True)
        is_cls.append(True)
        is_window.append(not rule1)
        j = len(ids) - 1
        rows.append(("cls", j, keys))
        look = None
        if recheck:  # a second [CLS] reads the query and the same window; nothing keeps its state
            ids.append(cls_id)
            pos.append(0)
            valid.append(True)
            is_cls.append(True)
            is_window.append(False)
            look = len(ids) - 1
            rows.append(("cls", look, list(query_content) + [response[r][0] for r in picked]))
        ids.append(t)
        pos.append(pos[i])
        valid.append(real)
        is_cls.append(False)
        is_window.append(False)
        c = len(ids) - 1
        rows.append(("copy", c, j))
        first[c] = i
        copies.add(c)  # later tokens see the first copy of token s, never the second
        token_rows[-1] = c
        stale[s - 1] = i
        latest_cls = j
        # --- the decision, on this function's own p ---
        ps = judge((look if look is not None else j) + 1, [(j, False, not rule1)]
                   + ([(look, True, False)] if look is not None else []))
        p = ps[0]
        ref.p.append(p)
        if look is not None:
            ref.p_look.append(ps[1])
        k += 1
        if stopped or not real or finished:
            continue
        mal = decide(k, p)
        win = (["query"] if rule1 else []) + ([picked[0], picked[-1]] if picked else [])
        ref.trace.append({"step": s, "window": win, "decision": "malicious" if mal else "benign",
                          "rule": 1 if rule1 else 3 if state == "rule3" else 2})
        if state == "confirm":
            if n >= cfg.r1:  # the first window with r1 response tokens decides
                if not mal:
                    state = "rule2"
                elif cfg.reliance == "high":
                    state, stopped, ref.stopped_at = "rule1", True, s
                else:
                    state = "rule1"
            continue
        # recheck: a verdict that would act is a false trigger when the query + this window score below it
        released = look is not None and ref.p_look[-1] < cfg.recheck
        if state == "rule2" and mal:
            state, S, count = "rule3", n - 1, 1
            if cfg.reliance == "high" and not cfg.high_waits_for_tau:
                if released:
                    state, S, count = "rule2", -1, 0
                    ref.trace[-1]["false_trigger"] = True
                else:
                    stopped, ref.stopped_at = True, s
        elif state == "rule3" and not acted:
            if mal:
                count += 1
            else:  # a false trigger: back to the sliding window
                state, S, count = "rule2", -1, 0
                ref.trace[-1]["false_trigger"] = True
        if state == "rule3" and not acted and count >= cfg.tau and not stopped:
            if released:
                state, S, count = "rule2", -1, 0
                ref.trace[-1]["false_trigger"] = True
            elif cfg.reliance == "medium":
                acted = True
            elif cfg.reliance == "high":
                stopped, ref.stopped_at = True, s
    if state == "confirm":  # ended before its confirmation: the fixed refusal, every token withheld
        ref.stopped_at = len(ref.real)
    logits, _ = run(len(ids))
    lg = logits[0].float()
    if cls_id < lg.shape[-1]:
        lg[:, cls_id] = float("-inf")
    ref.logits = [lg[r] for r in token_rows]
    ref.stale_logits = {s: lg[r] for s, r in stale.items()}
    return ref
