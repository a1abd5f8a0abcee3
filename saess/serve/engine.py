"""The serving engine: a bounded queue in front of `SafeGenerator`, drained by one worker thread.

Requests are validated and tokenised on the event loop (`ServeEngine.prepare`), then
queued (`submit`; a full queue is a 429 with `Retry-After`). The worker thread takes the
oldest queued request and, from the requests queued with the same decoding and
strategic settings, the ones closest to it in length (`saess.generation.batching.fits`)
up to `max_batch_size`, and decodes them as one batch. Requests that arrive while a batch
runs wait for the next batch: `SafeGenerator` keeps one KV cache per batch, so rows cannot
join a running batch. A row that finishes is answered at once (its client does not wait
for the batch); it stays in the batch as padding until the batch ends.

Per-row work inside a batch, at every decode step (`SafeGenerator.generate`'s `on_step`):
its own token budget (`max_tokens`), stop strings, streamed text deltas, and
cancellation: a request whose client went away (or a server shutting down) ends its row
at the next step; a batch whose rows have all ended stops.

Events go back to the request's asyncio queue through `loop.call_soon_threadsafe`:
("delta", text), ("done", Completion), ("error", APIError).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from saess.errors import InputError, SaessError
from saess.generation.batching import fits
from saess.generation.config import RELIANCES, SamplingConfig, StrategicConfig
from saess.generation.engine import GenerationResult, SafeGenerator
from saess.serve.config import ServeLimits
from saess.serve.protocol import APIError, ChatCompletionRequest, SafetyReport

logger = logging.getLogger(__name__)

STOP_STRING, CANCELLED = "stop-string", "cancelled"  # finish reasons the server gives rows


@dataclass
class Completion:
    """A finished request: the text, the OpenAI finish reason, the signal's report, token counts."""

    content: str
    finish_reason: str  # stop | length | content_filter
    safety: SafetyReport
    prompt_tokens: int
    completion_tokens: int


@dataclass
class Job:
    """One request on its way through the queue and a batch."""

    conversation: list[dict]
    prompt_tokens: int
    budget: int  # max new tokens
    sampling: SamplingConfig
    strategic: StrategicConfig
    stops: list[str]
    stream: bool
    want_trace: bool
    seeded: bool
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: bool = False  # set by the request's handler when its client is gone
    # worker-side state
    ids: list[int] = field(default_factory=list)
    sent: int = 0  # characters streamed so far
    final_text: str | None = None  # set when a stop string ended the row

    def push(self, kind: str, payload) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, payload))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    def batch_key(self) -> tuple:
        """Jobs with equal keys may share a batch (one SamplingConfig, one StrategicConfig per batch)."""
        sp = self.sampling
        dec = (sp.do_sample, sp.temperature, sp.top_p, sp.top_k) if sp.do_sample else (False,)
        # a seeded sampled request decodes alone, so its seed alone decides its tokens
        return dataclasses.astuple(self.strategic), dec, id(self) if self.seeded and sp.do_sample else None


class ServeEngine:
    """Validates requests, queues them, and decodes them in batches on a worker thread.

    Args:
        model: a loaded `SafetyModel`.
        name: the model name clients must send (`GET /v1/models` lists it).
        strategic: the server's strategic settings (`--reliance` ...); a request may ask
            for a reliance at least as strong, a threshold at most as high and a tau at most
            as large (stricter, never looser), any schedule, and its own windows.
        sampling: the server's decoding defaults (`max_new_tokens` is the default budget).
        limits: `ServeLimits`.
    """

    def __init__(self, model, name: str, strategic: StrategicConfig | None = None,
                 sampling: SamplingConfig | None = None, limits: ServeLimits | None = None):
        self.model = model
        self.name = name
        self.strategic = (strategic or StrategicConfig()).for_model(model)
        self.sampling = sampling or SamplingConfig()
        self.limits = limits or ServeLimits()
        if self.sampling.max_new_tokens > self.limits.max_tokens:
            raise InputError(f"--max-new-tokens {self.sampling.max_new_tokens} is above --max-tokens-limit "
                             f"{self.limits.max_tokens}")
        self.created = int(time.time())
        self.context = int(model.config.max_length)
        self._generators: OrderedDict[tuple, SafeGenerator] = OrderedDict()
        self._generator(self.strategic)  # checks the model (sliding window) before serving anything
        self._pending: list[Job] = []
        self._running: list[Job] = []
        self._cond = threading.Condition()
        self._closing = False
        self._abort = False  # end running rows at their next step (shutdown after the grace period)
        self._batch_seconds = 1.0
        self._thread: threading.Thread | None = None
        self.batches = 0  # batches decoded (for tests and /health)

    # --- event-loop side -----------------------------------------------------------------
    def prepare(self, req: ChatCompletionRequest) -> Job:
        """Check a request against the model and the server's limits; tokenise it. Raises APIError(400)."""
        if req.model != self.name:
            raise APIError(400, f"model {req.model!r} is not served here; this server serves {self.name!r}",
                           code="model_not_found", param="model")
        conv = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in req.messages]
        try:
            seq = self.model.encoder.encode_messages(conv)
        except InputError as e:
            raise APIError(400, str(e), param="messages",
                           code="context_length_exceeded" if "longer than the context" in str(e) else None) from None
        budget = req.token_budget() or self.sampling.max_new_tokens
        if budget > self.limits.max_tokens:
            raise APIError(400, f"max_tokens {budget} is above this server's limit ({self.limits.max_tokens})",
                           param="max_tokens")
        if len(seq) + budget > self.context:
            raise APIError(400, f"the messages ({len(seq)} tokens) plus max_tokens ({budget}) exceed the context "
                                f"({self.context} tokens)", code="context_length_exceeded", param="messages")
        opts = req.safety
        return Job(conversation=conv, prompt_tokens=len(seq), budget=budget, sampling=self._sampling(req, budget),
                   strategic=self._strategic(opts), stops=req.stop_list(), stream=req.stream,
                   want_trace=bool(opts and opts.trace), seeded=req.seed is not None,
                   loop=asyncio.get_running_loop())

    def _sampling(self, req: ChatCompletionRequest, budget: int) -> SamplingConfig:
        base = self.sampling
        kw = {"max_new_tokens": budget}
        if req.temperature is not None:
            kw["do_sample"] = req.temperature > 0
            if req.temperature > 0:
                kw["temperature"] = float(req.temperature)
        if req.top_p is not None:
            kw["top_p"] = float(req.top_p)
        do_sample = kw.get("do_sample", base.do_sample)
        if req.seed is not None:
            kw["seed"] = req.seed
        elif do_sample:  # unseeded sampling: a fresh seed, not the server's fixed one
            kw["seed"] = secrets.randbits(31)
        try:
            return dataclasses.replace(base, **kw)
        except InputError as e:
            raise APIError(400, str(e)) from None

    def _strategic(self, opts) -> StrategicConfig:
        base = self.strategic
        if opts is None:
            return base
        kw = {k: v for k, v in opts.model_dump(exclude={"trace"}).items() if v is not None}
        if "reliance" in kw and RELIANCES.index(kw["reliance"]) < RELIANCES.index(base.reliance):
            raise APIError(400, f"safety.reliance {kw['reliance']!r} is weaker than this server's "
                                f"({base.reliance!r}); allowed: {', '.join(RELIANCES[RELIANCES.index(base.reliance):])}",
                           param="safety.reliance")
        if kw.get("threshold", 0) > base.threshold:
            raise APIError(400, f"safety.threshold {kw['threshold']} is above this server's ({base.threshold}); "
                                "a request may only lower it", param="safety.threshold")
        if "threshold" in kw and base.window_threshold is not None:
            # a lower threshold lowers the windows' too (never raises them): a request only tightens
            kw["window_threshold"] = min(base.window_threshold, kw["threshold"])
        if "threshold" in kw and base.window_bands:
            kw["window_bands"] = tuple((q, min(t, kw["threshold"])) for q, t in base.window_bands)
        if kw.get("tau", 0) > base.tau:
            raise APIError(400, f"safety.tau {kw['tau']} is above this server's ({base.tau}); a request may "
                                "only lower it", param="safety.tau")
        try:
            return dataclasses.replace(base, **kw)
        except InputError as e:
            raise APIError(400, f"safety: {e}", param="safety") from None

    def submit(self, job: Job) -> None:
        """Queue a job. Raises APIError 503 when closing, 429 (with Retry-After) when the queue is full."""
        with self._cond:
            if self._closing:
                raise APIError(503, "the server is shutting down", code="server_shutting_down")
            if len(self._pending) >= self.limits.max_queue:
                wait = max(1, min(60, math.ceil(self._batch_seconds)))
                raise APIError(429, f"the queue is full ({self.limits.max_queue} requests waiting); retry in {wait} s",
                               code="queue_full", headers={"Retry-After": str(wait)})
            self._pending.append(job)
            self._cond.notify()

    def stats(self) -> dict:
        with self._cond:
            return {"queued": len(self._pending), "running": len(self._running), "batches": self.batches,
                    "closing": self._closing}

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="saess-serve-engine", daemon=True)
        self._thread.start()

    def close(self, grace_s: float = 0.0) -> None:
        """Refuse new jobs, answer queued ones with 503, let the running batch finish for
        `grace_s` seconds, then end its rows at the next step; wait for the worker."""
        with self._cond:
            self._closing = True
            queued, self._pending = self._pending, []
            self._cond.notify_all()
        for job in queued:
            job.push("error", APIError(503, "the server is shutting down", code="server_shutting_down"))
        if self._thread is None:
            return
        self._thread.join(grace_s)
        if self._thread.is_alive():
            self._abort = True
            self._thread.join()

    # --- worker side -------------------------------------------------------------------------
    def _generator(self, strategic: StrategicConfig) -> SafeGenerator:
        key = dataclasses.astuple(strategic)
        gen = self._generators.get(key)
        if gen is None:
            gen = SafeGenerator(self.model, strategic)
            self._generators[key] = gen
            if len(self._generators) > 16:
                self._generators.popitem(last=False)
        self._generators.move_to_end(key)
        return gen

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if self._closing and not self._pending:
                    return
                if len(self._pending) < self.limits.max_batch_size and self.limits.batch_wait_s > 0:
                    self._cond.wait(self.limits.batch_wait_s)  # let requests sent together arrive together
                batch = self._take_batch()
                self._running = batch
            if batch:
                t0 = time.perf_counter()
                try:
                    self._run(batch)
                finally:
                    self._batch_seconds = time.perf_counter() - t0
                    with self._cond:
                        self._running = []
                        self.batches += 1

    def _take_batch(self) -> list[Job]:
        """The oldest job and the queued jobs like it, nearest in length first (lock held)."""
        self._pending = [j for j in self._pending if not j.cancelled]
        if not self._pending:
            return []
        first = self._pending[0]
        key = first.batch_key()
        same = sorted((j for j in self._pending[1:] if j.batch_key() == key),
                      key=lambda j: abs(j.prompt_tokens - first.prompt_tokens))
        batch = [first]
        lo = hi = first.prompt_tokens
        budget = first.budget
        for j in same:
            if len(batch) >= self.limits.max_batch_size:
                break
            lo2, hi2 = min(lo, j.prompt_tokens), max(hi, j.prompt_tokens)
            b2 = max(budget, j.budget)
            if fits(lo2, hi2, self.limits.max_ratio, self.limits.slack) and hi2 + b2 <= self.context:
                batch.append(j)
                lo, hi, budget = lo2, hi2, b2
        taken = {id(j) for j in batch}
        self._pending = [j for j in self._pending if id(j) not in taken]
        return batch

    def _run(self, jobs: list[Job]) -> None:
        gen = self._generator(jobs[0].strategic)
        sampling = dataclasses.replace(jobs[0].sampling, max_new_tokens=max(j.budget for j in jobs))
        done = [False] * len(jobs)
        tok = self.model.tokenizer
        eos = set(gen.eos_ids)

        def on_step(step: int, tokens: list[list[int] | None]) -> dict[int, str]:
            ended = {}
            for b, (job, ts) in enumerate(zip(jobs, tokens, strict=True)):
                if job.cancelled or self._abort:
                    ended[b] = CANCELLED
                    continue
                if ts is None:
                    continue
                new = [t for t in ts if t not in eos]  # empty while a confirmation withholds the row's tokens
                if new:
                    job.ids.extend(new)
                    if job.stream or job.stops:
                        if self._advance_text(job, tok):
                            ended[b] = STOP_STRING
                            continue
                if step >= job.budget:
                    ended[b] = "length"
            return ended

        def on_row_done(b: int, res: GenerationResult) -> None:
            done[b] = True
            job = jobs[b]
            if res.finish_reason == CANCELLED:
                job.push("error", APIError(503, "the request was cancelled (client gone or server shutting down)",
                                           code="cancelled"))
                return
            comp = self._completion(job, res)
            if job.stream:
                if res.finish_reason == "refused":
                    rest = (" " if job.sent else "") + comp.content
                else:
                    rest = comp.content[job.sent:]
                if rest:
                    job.push("delta", rest)
            job.push("done", comp)

        try:
            gen.generate([j.conversation for j in jobs], sampling=sampling, on_step=on_step, on_row_done=on_row_done)
        except SaessError as e:
            err = APIError(400, str(e))
        except Exception:
            logger.exception("batch of %d requests failed", len(jobs))
            err = APIError(500, "internal error while generating (logged on the server)", code="internal_error")
        else:
            return
        for b, job in enumerate(jobs):
            if not done[b]:
                job.push("error", err)

    @staticmethod
    def _advance_text(job: Job, tok) -> bool:
        """Stream the new text of `job` and look for its stop strings; True when one was met."""
        text = tok.decode(job.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # a multi-byte character still incomplete
            return False
        if job.stops:
            hits = [i for i in (text.find(s) for s in job.stops) if i >= 0]
            if hits:
                job.final_text = text[:min(hits)]
                if job.stream and len(job.final_text) > job.sent:
                    job.push("delta", job.final_text[job.sent:])
                    job.sent = len(job.final_text)
                return True
            safe = len(text) - (max(len(s) for s in job.stops) - 1)  # a stop string may be starting
        else:
            safe = len(text)
        if job.stream and safe > job.sent:
            job.push("delta", text[job.sent:safe])
            job.sent = safe
        return False

    def _completion(self, job: Job, res: GenerationResult) -> Completion:
        cfg = job.strategic
        guide_at = [t["inserted_guide_at"] for t in res.trace if "inserted_guide_at" in t]
        refused = res.finish_reason == "refused"
        if refused or guide_at:
            finish = "content_filter"
        elif res.finish_reason == "length":
            finish = "length"
        else:  # eos, a stop string
            finish = "stop"
        content = job.final_text if res.finish_reason == STOP_STRING else res.generated
        report = SafetyReport(p_malicious_query=round(res.p_malicious_query, 6),
                              malicious_query=res.p_malicious_query >= cfg.threshold, threshold=cfg.threshold,
                              reliance=cfg.reliance, schedule=cfg.schedule, guide_inserted=bool(guide_at),
                              guide_inserted_at=guide_at, refused=refused,
                              reevaluations=sum(1 for t in res.trace if t["step"] > 0),
                              trace=res.trace if job.want_trace else None)
        return Completion(content, finish, report, job.prompt_tokens, res.num_tokens)
