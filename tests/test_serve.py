"""`saess serve` driven over loopback HTTP by the official `openai` client, on a tiny random model.

Each server runs in a thread (uvicorn on port 0, the bound port read back). A "slow" model
sleeps before each forward pass so that tests can observe a request while it runs
(queue full, client gone, shutdown); the sleep stands in for a real model's step time.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time

import httpx
import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from saess.cli import build_parser  # noqa: E402
from saess.generation.config import GUIDE_TEXT, REFUSAL_TEXT, SamplingConfig, StrategicConfig  # noqa: E402
from saess.generation.engine import SafeGenerator  # noqa: E402
from saess.serve.app import create_app  # noqa: E402
from saess.serve.cli import build_server  # noqa: E402
from saess.serve.config import ServeLimits  # noqa: E402
from saess.serve.engine import ServeEngine  # noqa: E402
from saess.testing import TinyRegistry, forced_head, tiny_safety_model  # noqa: E402

KEY = "sk-test-key"
HELLO = [{"role": "user", "content": "How do I bake bread at home?"}]


@pytest.fixture(scope="module")
def model():
    return tiny_safety_model("llama", "chatml")


@contextlib.contextmanager
def serving(model, api_key=KEY, strategic=None, sampling=None, grace_s=30.0, **limits):
    engine = ServeEngine(model, "tiny", strategic or StrategicConfig(reliance="low"),
                         sampling or SamplingConfig(max_new_tokens=8), ServeLimits(**limits))
    app = create_app(engine, api_key=api_key, shutdown_grace_s=grace_s)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error",
                                           timeout_graceful_shutdown=grace_s))
    with run_server(server) as url:
        yield url, engine, server


@contextlib.contextmanager
def run_server(server):
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    deadline = time.time() + 20
    while not server.started:
        assert th.is_alive() and time.time() < deadline, "server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    server.thread = th
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        th.join(20)
        assert not th.is_alive(), "server did not stop"


def client(url, key=KEY, **kw):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=kw.pop("timeout", 30), **kw)


@contextlib.contextmanager
def slow(model, seconds=0.02):
    """The model sleeps before each forward pass; `calls` counts the passes."""
    calls = [0]
    run = model.run

    def slow_run(*a, **k):
        calls[0] += 1
        time.sleep(seconds)
        return run(*a, **k)

    model.run = slow_run
    try:
        yield calls
    finally:
        del model.run


def wait_for(cond, timeout=10.0):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "condition not reached"
        time.sleep(0.01)


def health(url):
    return httpx.get(url + "/health").json()


# --- plain and streamed chat -------------------------------------------------------------
def test_models_health_and_plain_chat_match_the_generator(model):
    with serving(model) as (url, engine, _):
        c = client(url)
        assert [m.id for m in c.models.list().data] == ["tiny"]
        assert httpx.get(url + "/health").status_code == 200
        r = c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=12, temperature=0)
    direct = SafeGenerator(model, StrategicConfig(reliance="low")).generate(
        [HELLO], sampling=SamplingConfig(max_new_tokens=12))[0]
    ch = r.choices[0]
    assert ch.message.role == "assistant" and ch.message.content == direct.generated
    assert ch.finish_reason == {"eos": "stop", "length": "length"}[direct.finish_reason]
    assert r.usage.completion_tokens == direct.num_tokens <= 12
    assert r.usage.prompt_tokens == len(model.encoder.encode_messages(HELLO))
    s = r.safety  # the extension, passed through by the client
    assert s["p_malicious_query"] == pytest.approx(direct.p_malicious_query, abs=1e-5)
    assert s["malicious_query"] == (direct.p_malicious_query >= s["threshold"])
    assert s["reliance"] == "low" and s["guide_inserted"] is False and "trace" not in s


def test_stream_gives_the_same_text_then_finish_safety_usage_and_done(model):
    with serving(model) as (url, _, _):
        c = client(url)
        plain = c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=16, temperature=0)
        chunks = list(c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=16, temperature=0,
                                                stream=True, stream_options={"include_usage": True}))
        raw = httpx.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                         json={"model": "tiny", "messages": HELLO, "max_tokens": 4, "stream": True}).text
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == plain.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    final = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert len(final) == 1 and final[0].choices[0].finish_reason == plain.choices[0].finish_reason
    assert final[0].safety["p_malicious_query"] == plain.safety["p_malicious_query"]
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert raw.rstrip().endswith("data: [DONE]") and raw.count("data: ") >= 3


def test_stop_strings_cut_the_answer(model):
    with serving(model) as (url, _, _):
        c = client(url)
        full = c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=24, temperature=0)
        text = full.choices[0].message.content
        assert len(text) >= 6, "the tiny model should say something"
        stop = text[3:5]
        cut = c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=24, temperature=0, stop=[stop])
        streamed = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
            model="tiny", messages=HELLO, max_tokens=24, temperature=0, stop=stop, stream=True) if ch.choices)
    assert cut.choices[0].message.content == text[:text.find(stop)] == streamed
    assert cut.choices[0].finish_reason == "stop"
    assert cut.usage.completion_tokens < full.usage.completion_tokens


def test_sampling_with_a_seed_repeats(model):
    with serving(model) as (url, _, _):
        c = client(url)
        a, b = (c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=12, temperature=1.0, top_p=0.9,
                                          seed=7).choices[0].message.content for _ in range(2))
    assert a == b


def test_multi_turn_messages_judge_every_turn(model):
    conv = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Write a poem about the sea."}]
    seq = model.encoder.encode_messages(conv)
    judged = model.tokenizer.decode([t for t, c in zip(seq.input_ids, seq.content, strict=True) if c])
    assert judged == "Be brief.HiHello.Write a poem about the sea."
    with serving(model) as (url, _, _):
        r = client(url).chat.completions.create(model="tiny", messages=conv, max_tokens=4)
        assert r.choices[0].finish_reason in ("stop", "length")
        with pytest.raises(openai.BadRequestError, match="last message must be from the user"):
            client(url).chat.completions.create(model="tiny", messages=conv[:3], max_tokens=4)


# --- the safety extension ------------------------------------------------------------------
def test_guide_insertion_is_content_filter_and_reported(model):
    with serving(model, strategic=StrategicConfig(reliance="medium")) as (url, _, _):
        c = client(url)
        r = c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=20,
                                      extra_body={"safety": {"threshold": 1e-6, "trace": True}})
        high = c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=20,
                                         extra_body={"safety": {"threshold": 1e-6, "reliance": "high"}})
        chunks = list(c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=20, stream=True,
                                                extra_body={"safety": {"threshold": 1e-6, "reliance": "high"}}))
        for body, needle in (({"reliance": "low"}, "weaker than this server"),
                             ({"threshold": 0.9}, "above this server"), ({"tau": 9}, "above this server"),
                             ({"reliance": "loud"}, "safety.reliance"), ({"bogus": 1}, "safety.bogus")):
            with pytest.raises(openai.BadRequestError, match=needle):
                c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=4, extra_body={"safety": body})
    s = r.safety
    assert s["malicious_query"] and s["guide_inserted"] and s["guide_inserted_at"] == [0]
    assert r.choices[0].message.content.startswith(GUIDE_TEXT)
    assert r.choices[0].finish_reason == "content_filter"
    assert s["trace"][0]["step"] == 0 and s["trace"][0]["inserted_guide_at"] == 0
    assert s["reevaluations"] == len(s["trace"]) - 1 > 0  # annealing re-evaluates while writing
    assert high.choices[0].message.content == REFUSAL_TEXT and high.safety["refused"]
    assert high.choices[0].finish_reason == "content_filter" and high.usage.completion_tokens == 0
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == REFUSAL_TEXT
    assert chunks[-1].choices[0].finish_reason == "content_filter"


# --- errors -----------------------------------------------------------------------------
def _raw(url, body, key=KEY, **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if isinstance(body, (dict, list)):
        return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, **kw)
    return httpx.post(url + "/v1/chat/completions", content=body, headers={**headers, "Content-Type":
                                                                          "application/json"}, **kw)


def test_bad_requests_get_400_in_the_openai_shape(model):
    long_text = "the quick brown fox " * 50  # ~430 tokens: fits the 512-token context alone
    assert len(model.encoder.encode_messages([{"role": "user", "content": long_text}])) < model.config.max_length
    with serving(model, max_tokens=400) as (url, _, _):
        c = client(url)
        cases = [
            (dict(n=2), "n: only n=1"),
            (dict(model="gpt-4"), "not served here"),
            (dict(max_tokens=401), "above this server's limit"),
            (dict(messages=[{"role": "user", "content": long_text}], max_tokens=100), "exceed the context"),
            (dict(extra_body={"max_tokens": "5"}), "max_tokens"),
            (dict(extra_body={"temperature": "hot"}), "temperature"),
            (dict(temperature=3), "temperature"),
            (dict(tools=[{"type": "function", "function": {"name": "f"}}]), "tools: not supported"),
            (dict(messages=[{"role": "tool", "content": "x"}]), "messages.0.role"),
            (dict(messages=[]), "messages"),
            (dict(messages=[{"role": "user", "content": "   "}]), "empty"),
        ]
        for kw, needle in cases:
            args = dict(model="tiny", messages=HELLO, max_tokens=4) | kw
            with pytest.raises(openai.BadRequestError) as e:
                c.chat.completions.create(**args)
            err = e.value.body
            assert needle in err["message"], (kw, err)
            assert err["type"] == "invalid_request_error" and "\n" not in err["message"]
        over = c.chat.completions.create  # context: the prompt alone is too long
        with pytest.raises(openai.BadRequestError) as e:
            over(model="tiny", messages=[{"role": "user", "content": long_text * 2}], max_tokens=4)
        assert e.value.body["code"] == "context_length_exceeded"
        for body in (b"{not json", b"[1, 2]", b"\xff\xfe"):
            r = _raw(url, body)
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", body
        r = _raw(url, {"messages": HELLO})
        assert r.status_code == 400 and r.json()["error"]["message"].startswith("model:")
        r = httpx.get(url + "/v1/nothing-here", headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 404 and set(r.json()["error"]) >= {"message", "type", "code"}
        assert health(url)["status"] == "ok"  # none of them took the server down
        assert c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=2).choices


def test_api_key(model):
    with serving(model) as (url, _, _):
        for key in ("wrong", KEY[:-1]):
            with pytest.raises(openai.AuthenticationError) as e:
                client(url, key=key).models.list()
            assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
        r = _raw(url, {"model": "tiny", "messages": HELLO}, key=None)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        assert httpx.get(url + "/health").status_code == 200  # health needs no key
        assert client(url).chat.completions.create(model="tiny", messages=HELLO, max_tokens=2).choices
    with serving(model, api_key=None) as (url, _, _):
        assert client(url, key="anything").models.list().data[0].id == "tiny"


def test_unexpected_errors_are_500_without_traceback(model):
    with serving(model) as (url, engine, _):
        def boom(*a, **k):
            raise RuntimeError("secret internals")

        model.run = boom
        try:
            with pytest.raises(openai.InternalServerError) as e:
                client(url).chat.completions.create(model="tiny", messages=HELLO, max_tokens=4)
        finally:
            del model.run
        assert "secret" not in json.dumps(e.value.body) and "Traceback" not in json.dumps(e.value.body)
        assert client(url).chat.completions.create(model="tiny", messages=HELLO, max_tokens=2).choices


# --- concurrency ------------------------------------------------------------------------
def test_requests_sent_together_are_decoded_together(model):
    prompts = ["Write a poem about the sea.", "How do I bake bread?", "Explain photosynthesis.", "Tell me a joke."]
    with slow(model, 0.01), serving(model, max_batch_size=8, batch_wait_s=0.2) as (url, engine, _):
        c = client(url)
        out = [None] * len(prompts)

        def ask(i):
            out[i] = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": prompts[i]}],
                                               max_tokens=6, temperature=0).choices[0].message.content

        ths = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
        for t in ths:
            t.start()
        for t in ths:
            t.join(30)
        assert all(o is not None for o in out)
        assert engine.batches < len(prompts)  # at least two were decoded in one batch


def test_full_queue_is_429_with_retry_after(model):
    with slow(model, 0.05), serving(model, max_batch_size=1, max_queue=1, batch_wait_s=0) as (url, engine, _):
        c = client(url)
        results = []
        first = threading.Thread(target=lambda: results.append(
            c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=30, temperature=0)))
        first.start()
        wait_for(lambda: health(url)["running"] == 1)
        second = threading.Thread(target=lambda: results.append(
            c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=2, temperature=0)))
        second.start()
        wait_for(lambda: health(url)["queued"] == 1)
        with pytest.raises(openai.RateLimitError) as e:
            c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=2)
        assert int(e.value.response.headers["retry-after"]) >= 1 and e.value.body["code"] == "queue_full"
        first.join(30)
        second.join(30)
        assert len(results) == 2  # the queued ones were not lost


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_that_goes_away_stops_its_work(model, stream):
    budget = 300
    with slow(model, 0.02) as calls, serving(model, max_tokens=budget) as (url, engine, _):
        body = {"model": "tiny", "messages": HELLO, "max_tokens": budget, "stream": stream,
                "safety": {"schedule": "first"}}
        headers = {"Authorization": f"Bearer {KEY}"}
        if stream:
            with httpx.stream("POST", url + "/v1/chat/completions", json=body, headers=headers) as r:
                data = (line for line in r.iter_lines() if line.startswith("data: "))
                for _ in range(3):  # the role chunk and two text deltas: the row is decoding
                    next(data)
        else:
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=0.3)
        wait_for(lambda: health(url)["running"] == 0, timeout=10)
        n = calls[0]
        time.sleep(0.2)
        assert calls[0] == n  # no forward pass after the batch ended
    assert 2 <= n < budget // 2  # it ran, and ended long before its budget (one pass per token otherwise)


def test_graceful_shutdown_finishes_running_requests(model):
    results = []
    with slow(model, 0.01):
        with serving(model) as (url, engine, server):
            c = client(url)
            th = threading.Thread(target=lambda: results.append(
                c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=40, temperature=0,
                                          extra_body={"safety": {"schedule": "first"}})))
            th.start()
            wait_for(lambda: health(url)["running"] == 1)
            t0 = time.time()
            server.should_exit = True
            th.join(20)
            server.thread.join(20)
            assert time.time() - t0 < 10
        assert len(results) == 1 and results[0].choices[0].message.content is not None
        assert not engine._thread.is_alive()


def test_shutdown_past_the_grace_period_ends_running_rows(model):
    errors = []
    with slow(model, 0.02) as calls:
        with serving(model, max_tokens=400, grace_s=0.3) as (url, engine, server):
            def ask():
                try:
                    client(url).chat.completions.create(model="tiny", messages=HELLO, max_tokens=400,
                                                        extra_body={"safety": {"schedule": "first"}})
                except (openai.APIError, httpx.HTTPError) as e:
                    errors.append(e)

            th = threading.Thread(target=ask)
            th.start()
            wait_for(lambda: health(url)["running"] == 1)
            server.should_exit = True
            server.thread.join(10)
            assert not server.thread.is_alive()
            th.join(10)
        assert not engine._thread.is_alive() and calls[0] < 200
        assert len(errors) == 1  # the client got an error, not a hang


# --- the command ------------------------------------------------------------------------
def test_saess_serve_command_builds_a_server_from_its_flags(model):
    parser = build_parser()
    args = parser.parse_args(["serve", "--model", "tiny", "--port", "0", "--api-key", KEY, "--max-batch-size", "3",
                              "--reliance", "high", "--max-new-tokens", "5", "--max-tokens-limit", "50"])
    args.registry, args.quiet = TinyRegistry(lambda name: model), True
    server = build_server(args)
    e = server.engine
    assert (e.name, e.limits.max_batch_size, e.strategic.reliance, e.sampling.max_new_tokens) == \
        ("tiny", 3, "high", 5)
    with run_server(server) as url:
        r = client(url).chat.completions.create(model="tiny", messages=HELLO)
        assert r.safety["reliance"] == "high" and r.usage.completion_tokens <= 5
        with pytest.raises(openai.BadRequestError, match="weaker"):
            client(url).chat.completions.create(model="tiny", messages=HELLO, extra_body={"safety": {"reliance":
                                                                                                   "medium"}})


def test_bad_serve_flags_are_one_line_errors_before_loading(model, capsys):
    from saess.cli import main

    registry = TinyRegistry(lambda name: model)
    for flags, needle in ((["--max-batch-size", "0"], "max_batch_size must be a positive integer"),
                          (["--port", "70000"], "--port must be in 0..65535"),
                          (["--reliance", "loud"], "reliance 'loud' is not one of"),
                          (["--max-tokens-limit", "64"], "--max-new-tokens 128 (the budget")):
        assert main(["serve", "--model", "tiny", *flags], registry=registry) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("saess: error:") and needle in err and "\n" not in err
    assert registry.loads == []


# --- the load benchmark -------------------------------------------------------------------
def test_load_benchmark_counts_tokens_latency_and_lost_requests(model, tmp_path, capsys):
    from saess.cli import main
    from saess.serve.loadtest import LoadConfig, percentile, run_load

    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0 and percentile([1.0, 2.0], 0.95) == pytest.approx(1.95)
    prompts = ["Write a poem about the sea.", "How do I bake bread?", "Explain photosynthesis."]
    with serving(model, api_key=None) as (url, engine, _):
        rep = run_load(LoadConfig(url=url, model="tiny", prompts=prompts, concurrency=[1, 4], requests=6,
                                  max_tokens=5))
        src = tmp_path / "p.jsonl"
        src.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
        assert main(["-q", "serve-bench", "--url", url, "--model", "tiny", "--prompts", str(src),
                     "--concurrency", "2", "--requests", "2", "--max-tokens", "3"]) == 0
        assert json.loads(capsys.readouterr().out)["levels"][0]["ok"] == 2
    for level in rep["levels"]:
        assert (level["requests"], level["ok"], level["lost"]) == (6, 6, 0)
        assert 0 < level["completion_tokens"] <= 6 * 5 and level["tokens_per_s"] > 0
        assert level["ttft_p50_s"] <= level["latency_p50_s"] <= level["latency_p95_s"]
    # a one-slot queue with one row per batch cannot take 6 clients at once: 429s are lost requests
    with slow(model, 0.02), serving(model, api_key=None, max_batch_size=1, max_queue=1, batch_wait_s=0) as (url, _, _):
        rep = run_load(LoadConfig(url=url, model="tiny", prompts=prompts, concurrency=[6], requests=6, max_tokens=5))
        assert main(["-q", "serve-bench", "--url", url, "--model", "tiny", "--prompts", str(src),
                     "--concurrency", "6", "--requests", "6", "--max-tokens", "5"]) == 1
    level = rep["levels"][0]
    assert level["lost"] > 0 and level["ok"] + level["lost"] == 6 and "RateLimitError" in level["errors"][0]


def test_a_lower_request_threshold_also_lowers_the_window_threshold(model):
    """The server's windows have their own threshold (0.95 here); a request that lowers the
    threshold to 0.3 gets windows at 0.3 too, one at 0.99 keeps them (a request only tightens)."""
    from saess.serve.protocol import SafetyOptions

    engine = ServeEngine(model, "tiny", StrategicConfig(threshold=0.6, window_threshold=0.95))
    low = engine._strategic(SafetyOptions(threshold=0.3))
    assert (low.threshold, low.window_threshold) == (0.3, 0.3)
    mid = engine._strategic(SafetyOptions(threshold=0.5))
    assert (mid.threshold, mid.window_threshold) == (0.5, 0.5)
    same = engine._strategic(SafetyOptions(reliance="high"))
    assert (same.threshold, same.window_threshold) == (0.6, 0.95)


def test_a_lower_request_threshold_also_lowers_the_window_bands(model):
    """Window bands (docs/generation.md, "Window bands") only tighten too: a request threshold of 0.3 caps each."""
    from saess.serve.protocol import SafetyOptions

    engine = ServeEngine(model, "tiny", StrategicConfig(threshold=0.6, window_threshold=0.95,
                                                        window_bands=((0.05, 0.99), (0.2, 0.2))))
    low = engine._strategic(SafetyOptions(threshold=0.3))
    assert low.window_bands == ((0.05, 0.3), (0.2, 0.2)) and low.window_threshold_for(0.01) == 0.3
    assert engine._strategic(SafetyOptions(reliance="high")).window_bands == ((0.05, 0.99), (0.2, 0.2))


def test_confirmation_streams_nothing_it_withholds(model):
    """With `confirm`, a query flagged malicious and confirmed on its first r1 tokens streams the
    guide and what follows, never the withheld tokens; one not confirmed streams everything."""
    strategic = StrategicConfig(reliance="medium", schedule="every", r1=3, confirm=True)
    texts = {}
    for name, pattern in (("confirmed", lambda k: True), ("released", lambda k: k == 0)):
        model.safety_logit_hook = forced_head(pattern)
        try:
            with serving(model, strategic=strategic, sampling=SamplingConfig(max_new_tokens=24)) as (url, _, _):
                chunks = list(client(url).chat.completions.create(model="tiny", messages=HELLO, max_tokens=24,
                                                                   temperature=0, stream=True))
        finally:
            model.safety_logit_hook = None
        texts[name] = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert texts["confirmed"].startswith(GUIDE_TEXT)
    assert GUIDE_TEXT not in texts["released"] and len(texts["released"]) > 0
