"""`saess serve`: the model behind an OpenAI-compatible HTTP API (FastAPI + uvicorn).

Registered into `saess.cli` by `register_serve_command`. FastAPI and uvicorn are the
`serve` extra (`pip install -e '.[serve]'`); without them the other commands work and
`saess serve` names what is missing.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from saess.data.files import read_prompt_file
from saess.errors import InputError, SaessError
from saess.flags import (
    add_device_args,
    add_sampling_args,
    add_strategic_args,
    field_default,
    one_line_errors,
    sampling_from_args,
    strategic_from_args,
)
from saess.generation.cli import _load
from saess.serve.config import ServeLimits
from saess.serve.loadtest import LoadConfig, run_load

try:  # the serve extra; without it every other command still works and `saess serve` says what is missing
    import uvicorn

    from saess.serve.app import create_app
    from saess.serve.engine import ServeEngine
except ImportError as e:
    uvicorn = None
    _MISSING = e.name

logger = logging.getLogger("saess")


def build_server(args):
    """The configured `uvicorn.Server` (not started), with the model loaded: what `cmd_serve` runs."""
    if uvicorn is None:
        raise SaessError(f"saess serve needs the serve extra ({_MISSING} is missing): pip install -e '.[serve]'")
    if not 0 <= args.port < 65536:
        raise InputError(f"--port must be in 0..65535, got {args.port}")
    strategic, sampling = strategic_from_args(args), sampling_from_args(args)
    limits = ServeLimits(max_batch_size=args.max_batch_size, max_queue=args.max_queue,
                         max_tokens=args.max_tokens_limit)
    if sampling.max_new_tokens > limits.max_tokens:
        raise InputError(f"--max-new-tokens {sampling.max_new_tokens} (the budget of a request without "
                         f"max_tokens) is above --max-tokens-limit {limits.max_tokens}")
    model = _load(args, strategic)
    engine = ServeEngine(model, args.served_model_name or args.model, strategic, sampling, limits)
    api_key = args.api_key if args.api_key is not None else os.environ.get("SAESS_API_KEY") or None
    app = create_app(engine, api_key=api_key, shutdown_grace_s=args.shutdown_timeout)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info",
                            timeout_graceful_shutdown=args.shutdown_timeout, access_log=not args.quiet)
    server = uvicorn.Server(config)
    server.engine = engine
    return server


def cmd_serve(args) -> int:
    server = build_server(args)
    logger.info("serving %r on http://%s:%d/v1 (max batch %d, queue %d)", server.engine.name, args.host, args.port,
                args.max_batch_size, args.max_queue)
    server.run()
    return 0


def register_serve_command(sub) -> None:
    p = sub.add_parser("serve", help="serve a model behind an OpenAI-compatible chat completions API",
                       description="POST /v1/chat/completions (plain and streamed), GET /v1/models, GET /health, "
                                   "with the safety signal in every response. See docs/serve.md.")
    p.add_argument("--model", default="default", help="base | default | sft | aug | a path (default: default)")
    p.add_argument("--served-model-name", default=None, help="the name clients send (default: --model)")
    add_device_args(p)
    p.add_argument("--host", default="127.0.0.1", help="(default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="(default: 8000; 0 picks a free port)")
    p.add_argument("--api-key", default=None,
                   help="require 'Authorization: Bearer KEY' (default: $SAESS_API_KEY, else no key)")
    for name, flag, text in (("max_batch_size", "--max-batch-size", "requests decoded together at most"),
                             ("max_queue", "--max-queue", "queued requests at most; one more gets a 429"),
                             ("max_tokens", "--max-tokens-limit", "the largest max_tokens a request may ask")):
        d = field_default(ServeLimits, name)
        p.add_argument(flag, type=int, default=d, help=f"{text} (default: {d})")
    p.add_argument("--shutdown-timeout", type=float, default=30.0,
                   help="seconds running requests get to finish at shutdown (default: 30)")
    add_strategic_args(p, note="The server's settings; a request may make them stricter through its "
                               "'safety' object (docs/serve.md).")
    add_sampling_args(p)
    one_line_errors(p)
    p.set_defaults(func=cmd_serve)


def cmd_serve_bench(args) -> int:
    cfg = LoadConfig(url=args.url, model=args.model, prompts=[r.prompt for r in read_prompt_file(args.prompts)],
                     concurrency=args.concurrency, requests=args.requests, max_tokens=args.max_tokens,
                     api_key=args.api_key or os.environ.get("SAESS_API_KEY"), max_seconds=args.max_seconds)

    def progress(level):
        if not args.quiet:
            print(f"saess: {level['concurrency']:>3} clients: {level['ok']}/{level['requests']} ok, "
                  f"{level['tokens_per_s']} tokens/s, p50 {level['latency_p50_s']} s, p95 {level['latency_p95_s']} s, "
                  f"ttft p50 {level['ttft_p50_s']} s, lost {level['lost']}", file=sys.stderr)

    report = run_load(cfg, progress)
    sys.stdout.write(json.dumps(report) + "\n")
    return 1 if any(level["lost"] for level in report["levels"]) else 0


def register_serve_bench_command(sub) -> None:
    d = LoadConfig
    p = sub.add_parser("serve-bench", help="load benchmark of a running saess serve (concurrent streaming clients)",
                       description="Sends streamed chat requests from N concurrent clients per level and prints one "
                                   "JSON object: per level throughput, p50/p95 latency, time to first token, lost "
                                   "requests. Exit 1 if any request was lost. See docs/serve.md.")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default: http://127.0.0.1:8000)")
    p.add_argument("--model", default="default", help="the served model name (default: default)")
    p.add_argument("--prompts", required=True, help="JSONL with a 'prompt' field, or CSV with a 'prompt' column")
    p.add_argument("--concurrency", type=int, nargs="+", default=field_default(d, "concurrency"),
                   help=f"levels (default: {' '.join(map(str, field_default(d, 'concurrency')))})")
    for name, typ in (("requests", int), ("max_tokens", int), ("max_seconds", float)):
        p.add_argument("--" + name.replace("_", "-"), type=typ, default=field_default(d, name),
                       help=f"(default: {field_default(d, name)})")
    p.add_argument("--api-key", default=None, help="(default: $SAESS_API_KEY)")
    one_line_errors(p)
    p.set_defaults(func=cmd_serve_bench)
