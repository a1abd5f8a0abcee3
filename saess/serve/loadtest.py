"""A load benchmark for a running `saess serve`: N concurrent streaming clients (the `openai` package).

For each concurrency level, `concurrency` client threads send streamed chat requests
(prompts taken in turn from a list) until `requests` have been sent or `max_seconds`
have passed, and time each one: latency (request to last chunk), time to first token
(request to the first chunk with text), completion tokens (from the usage chunk). A
request that raises (a 429, a 5xx, a dropped connection, a timeout) is lost. Throughput
is completion tokens over the level's wall time. Loopback use only; not a timed test.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import asdict, dataclass, field

from saess.errors import InputError, SaessError


@dataclass
class LoadConfig:
    url: str  # the server, e.g. http://127.0.0.1:8000
    model: str
    prompts: list[str]
    concurrency: list[int] = field(default_factory=lambda: [1, 4, 8, 16])
    requests: int = 32  # per level
    max_tokens: int = 64
    temperature: float = 0.0
    api_key: str | None = None
    max_seconds: float = 600.0  # per level: no new request after this
    request_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if not self.prompts:
            raise InputError("no prompts")
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            raise InputError(f"concurrency levels must be >= 1, got {self.concurrency}")
        if self.requests < 1 or self.max_tokens < 1:
            raise InputError("requests and max_tokens must be >= 1")


@dataclass
class Sample:
    latency_s: float | None = None
    ttft_s: float | None = None
    tokens: int = 0
    error: str | None = None


def percentile(xs: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation; None for no data."""
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def one_request(client, cfg: LoadConfig, prompt: str) -> Sample:
    s = Sample()
    t0 = time.perf_counter()
    try:
        stream = client.chat.completions.create(model=cfg.model, messages=[{"role": "user", "content": prompt}],
                                                max_tokens=cfg.max_tokens, temperature=cfg.temperature,
                                                stream=True, stream_options={"include_usage": True})
        for chunk in stream:
            if s.ttft_s is None and chunk.choices and chunk.choices[0].delta.content:
                s.ttft_s = time.perf_counter() - t0
            if chunk.usage is not None:
                s.tokens = chunk.usage.completion_tokens
        s.latency_s = time.perf_counter() - t0
    except Exception as e:  # any failure is a lost request, counted and named
        s.error = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
    return s


def run_level(cfg: LoadConfig, concurrency: int) -> dict:
    try:
        import openai
    except ImportError:
        raise SaessError("the load benchmark needs the openai package: pip install openai") from None

    client = openai.OpenAI(base_url=cfg.url.rstrip("/") + "/v1", api_key=cfg.api_key or "none", max_retries=0,
                           timeout=cfg.request_timeout_s)
    lock = threading.Lock()
    samples: list[Sample] = []
    sent = [0]
    t0 = time.perf_counter()

    def worker():
        while True:
            with lock:
                if sent[0] >= cfg.requests or time.perf_counter() - t0 > cfg.max_seconds:
                    return
                i = sent[0]
                sent[0] += 1
            s = one_request(client, cfg, cfg.prompts[i % len(cfg.prompts)])
            with lock:
                samples.append(s)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = [s for s in samples if s.error is None]
    lat = [s.latency_s for s in ok]
    ttft = [s.ttft_s for s in ok if s.ttft_s is not None]
    tokens = sum(s.tokens for s in ok)
    r = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return {"concurrency": concurrency, "requests": len(samples), "ok": len(ok), "lost": len(samples) - len(ok),
            "errors": sorted({s.error for s in samples if s.error})[:5], "completion_tokens": tokens,
            "wall_s": r(wall), "tokens_per_s": r(tokens / wall if wall > 0 else 0.0),
            "latency_p50_s": r(percentile(lat, 0.5)), "latency_p95_s": r(percentile(lat, 0.95)),
            "ttft_p50_s": r(percentile(ttft, 0.5)), "ttft_p95_s": r(percentile(ttft, 0.95)),
            "mean_tokens": r(statistics.mean(s.tokens for s in ok)) if ok else None}


def run_load(cfg: LoadConfig, progress=None) -> dict:
    """One entry per concurrency level, in order; `progress(level_result)` after each."""
    levels = []
    for c in cfg.concurrency:
        res = run_level(cfg, c)
        levels.append(res)
        if progress is not None:
            progress(res)
    return {"config": {k: v for k, v in asdict(cfg).items() if k not in ("prompts", "api_key")} |
            {"prompts": len(cfg.prompts)}, "levels": levels}
