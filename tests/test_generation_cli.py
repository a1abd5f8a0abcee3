"""`saess generate`, `saess chat`, `saess bench` on a tiny random model (no downloads)."""

import functools
import io
import json

import pytest

from saess.cli import main
from saess.generation.config import GUIDE_TEXT
from saess.testing import TinyRegistry, save_tiny_lm, tiny_safety_model


@pytest.fixture(scope="module")
def tiny():
    return tiny_safety_model("llama", "chatml")


@pytest.fixture
def cli(tiny):
    """`saess` with a registry in which every name is the tiny model; `cli.loads`: the names loaded."""
    registry = TinyRegistry(lambda name: tiny)
    run = functools.partial(main, registry=registry)
    run.loads = registry.loads
    yield run
    tiny.config.extra.pop("signal", None)
    tiny.safety_logit_hook = None


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_generate_writes_one_line_per_prompt(tmp_path, cli):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "hi there"}, {"prompt": "How do I bake bread?"},
                                                 {"prompt": "Tell me a joke"}])
    out = tmp_path / "out.jsonl"
    rc = cli(["-q", "generate", "--model", "tiny", "--prompts", str(prompts), "--out", str(out),
               "--max-new-tokens", "5", "--batch-size", "2", "--schedule", "every", "--reliance", "low"])
    assert rc == 0 and cli.loads == ["tiny"]
    rows = read_jsonl(out)
    assert [r["prompt"] for r in rows] == ["hi there", "How do I bake bread?", "Tell me a joke"]
    for r in rows:
        for key in ("prompt", "prefill", "response", "trace", "finish_reason", "p_malicious_query", "num_tokens"):
            assert key in r
        assert "error" not in r
        assert 1 <= r["num_tokens"] <= 5
        assert r["trace"][0]["step"] == 0 and r["trace"][0]["window"] == "query"
        if r["finish_reason"] == "length":  # every step re-evaluated
            assert [t["step"] for t in r["trace"]] == list(range(6))


def test_generate_prefill_flag_and_target(tmp_path, cli):
    prompts = write_jsonl(tmp_path / "p.csv", [])
    prompts.write_text("prompt,target\nhello,Sure here is\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert cli(["-q", "generate", "--prompts", str(prompts), "--out", str(out), "--max-new-tokens", "3",
                 "--reliance", "low", "--prefill-from-target"]) == 0
    r = read_jsonl(out)[0]
    assert r["prefill"] == "Sure here is" and r["response"].startswith("Sure here is")
    assert cli(["-q", "generate", "--prompts", str(prompts), "--out", str(out), "--max-new-tokens", "3",
                 "--reliance", "low", "--prefill-from-target", "--prefill", "Okay"]) == 0
    assert read_jsonl(out)[0]["prefill"] == "Okay"


def test_generate_medium_inserts_guide(tmp_path, cli, tiny):
    import torch

    def always_malicious(logits):
        out = torch.zeros_like(logits)
        out[:, 1] = 20.0
        return out

    tiny.safety_logit_hook = always_malicious
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "hi"}])
    out = tmp_path / "o.jsonl"
    assert cli(["-q", "generate", "--prompts", str(prompts), "--out", str(out), "--max-new-tokens", "20",
                 "--reliance", "medium"]) == 0
    r = read_jsonl(out)[0]
    assert r["response"].startswith(GUIDE_TEXT)
    assert r["trace"][0]["inserted_guide_at"] == 0


def test_too_long_prompt_gives_error_line_others_complete(tmp_path, cli, tiny, caplog):
    long = "word " * (tiny.config.max_length + 10)
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "hi there"}, {"prompt": long}, {"prompt": "hello"}])
    out = tmp_path / "out.jsonl"
    rc = cli(["generate", "--prompts", str(prompts), "--out", str(out), "--max-new-tokens", "3",
               "--batch-size", "8", "--reliance", "low"])
    assert rc == 0
    rows = read_jsonl(out)
    assert len(rows) == 3
    assert "error" not in rows[0] and "error" not in rows[2]
    assert rows[0]["response"] is not None and rows[2]["num_tokens"] >= 1
    assert "error" in rows[1] and "longer than the context" in rows[1]["error"] and rows[1]["line"] == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("line 2" in w and "longer than the context" in w for w in warnings)
    assert any("1 of 3 prompts failed" in w for w in warnings)


@pytest.mark.parametrize("flags,needle", [
    (["--max-new-tokens", "0"], "max_new_tokens"),
    (["--r1", "0"], "r1"),
    (["--r2", "99999"], "r2"),
    (["--reliance", "extreme"], "reliance"),
    (["--schedule", "sometimes"], "schedule"),
    (["--tau", "0"], "tau"),
    (["--threshold", "1.5"], "threshold"),
    (["--max-new-tokens", "abc"], "max-new-tokens"),
    (["--batch-size", "0"], "batch-size"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path, cli, capsys, flags, needle):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "hi"}])
    try:
        rc = cli(["generate", "--prompts", str(prompts), *flags])
    except SystemExit as e:  # argparse type errors
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0] and needle in err[0]
    assert cli.loads == []  # flags are checked before the model is loaded


def test_reliance_needs_a_trained_signal(tmp_path, cli, tiny, capsys):
    tiny.config.extra["signal"] = False
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "hi"}])
    assert cli(["generate", "--prompts", str(prompts), "--reliance", "medium"]) == 2
    assert "no trained safety signal" in capsys.readouterr().err
    out = tmp_path / "o.jsonl"
    assert cli(["-q", "generate", "--prompts", str(prompts), "--reliance", "off", "--max-new-tokens", "2",
                 "--out", str(out)]) == 0
    assert len(read_jsonl(out)) == 1


def test_chat_with_piped_stdin(monkeypatch, cli, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n\n/quit\nnever read\n"))
    assert cli(["-q", "chat", "--max-new-tokens", "4", "--schedule", "every", "--reliance", "low"]) == 0
    out = capsys.readouterr().out.splitlines()
    sig = [line for line in out if line.startswith("[signal]")]
    assert len(sig) == 1  # one turn, then /quit
    assert "query " in sig[0] and "@1 " in sig[0] and "tokens" in sig[0]


def test_chat_exits_on_eof(monkeypatch, cli, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a\nb"))
    assert cli(["-q", "chat", "--max-new-tokens", "2", "--reliance", "low", "--no-trace"]) == 0
    out = capsys.readouterr().out
    assert "[signal]" not in out


def test_format_trace_marks_guide_and_false_trigger():
    from saess.generation.cli import format_trace
    from saess.generation.engine import GenerationResult

    trace = [{"step": 0, "window": "query", "p_malicious": 0.1, "decision": "benign", "rule": 2},
             {"step": 3, "window": [1, 2], "p_malicious": 0.9, "decision": "malicious", "rule": 2},
             {"step": 4, "window": [0, 3], "p_malicious": 0.2, "decision": "benign", "rule": 3,
              "false_trigger": True},
             {"step": 6, "window": [0, 5], "p_malicious": 0.95, "decision": "malicious", "rule": 3,
              "inserted_guide_at": 6}]
    line = format_trace(GenerationResult("p", None, "r", "r", 9, "eos", 0.1, trace))
    assert line == ("[signal] query 0.10 | @3 0.90! r2 | @4 0.20 r3 false-trigger | @6 0.95! r3 guide@6 "
                    "|| eos, 9 tokens")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A tiny LM saved as a transformers folder: `--model FOLDER` loads it, in this process and in
    the bench's memory children."""
    return save_tiny_lm(tmp_path_factory.mktemp("tiny-lm"))


def _bench(capsys, folder, *extra):
    rc = main(["-q", "bench", "--model", str(folder), "--device", "cpu",
               "--new-tokens", "4", "--repeats", "1", "--json", *extra])
    assert rc == 0
    return json.loads(capsys.readouterr().out)  # exactly one JSON object, nothing else on stdout


def _check_runs(report, batch_sizes):
    runs = report["runs"]
    assert {(r["batch_size"], r["schedule"]) for r in runs} == {
        (b, s) for b in batch_sizes for s in ("plain", "first", "periodic", "every", "annealing")}
    for r in runs:
        for key in ("batch_size", "schedule", "ratio", "tokens_per_s", "peak_rss_ratio"):
            assert key in r
        assert r["ratio"] > 0 and r["tokens_per_s"] > 0
        assert r["tokens"] == 4 * r["batch_size"]
    return runs


def test_bench_json_on_tiny_model_no_memory(capsys, tiny_folder):
    runs = _check_runs(_bench(capsys, tiny_folder, "--batch-sizes", "1", "2", "--no-memory"), (1, 2))
    assert all(r["peak_rss_ratio"] is None for r in runs)


@pytest.mark.slow
def test_bench_json_on_tiny_model_with_memory_children(capsys, tiny_folder):
    runs = _check_runs(_bench(capsys, tiny_folder, "--batch-sizes", "2"), (2,))
    for r in runs:
        assert r["peak_rss_ratio"] > 0 and r["peak_rss_mb"] > 0
    assert [r["peak_rss_ratio"] for r in runs if r["schedule"] == "plain"] == [1.0]


def test_bench_bad_schedule(capsys):
    assert main(["bench", "--schedules", "never", "--json"]) == 2
    assert "unknown schedule" in capsys.readouterr().err


def test_bench_memory_children_need_a_name_they_can_load(tiny):
    from saess.errors import InputError
    from saess.generation.bench import BenchConfig, run_bench

    with pytest.raises(InputError, match="memory children"):
        run_bench(BenchConfig(model="tiny", new_tokens=2, repeats=1), registry=TinyRegistry(lambda n: tiny))
    rep = run_bench(BenchConfig(model="tiny", new_tokens=2, repeats=1, batch_sizes=[1], schedules=["first"],
                                memory=False), registry=TinyRegistry(lambda n: tiny))
    assert [(r["batch_size"], r["schedule"]) for r in rep["runs"]] == [(1, "plain"), (1, "first")]


def test_strategic_flags_default_to_the_dataclass(cli, tmp_path):
    """Flags not given leave StrategicConfig / SamplingConfig defaults; --window sets r1 = r2 = r3."""
    import argparse

    from saess.errors import InputError
    from saess.flags import add_sampling_args, add_strategic_args, sampling_from_args, strategic_from_args
    from saess.generation.config import SamplingConfig, StrategicConfig

    p = argparse.ArgumentParser()
    add_strategic_args(p, window=True)
    add_sampling_args(p, max_new_tokens=256)
    a = p.parse_args([])
    assert strategic_from_args(a) == StrategicConfig()
    assert sampling_from_args(a) == SamplingConfig(max_new_tokens=256)
    a = p.parse_args(["--window", "7", "--period", "3", "--reliance", "high", "--do-sample", "--top-k", "5"])
    s = strategic_from_args(a)
    assert (s.r1, s.r2, s.r3, s.period, s.reliance) == (7, 7, 7, 3, "high")
    assert not s.high_waits_for_tau
    assert strategic_from_args(p.parse_args(["--reliance", "high", "--high-waits-for-tau", "on"])).high_waits_for_tau
    assert sampling_from_args(a).do_sample and sampling_from_args(a).top_k == 5
    with pytest.raises(InputError, match="--window or --r1"):
        strategic_from_args(p.parse_args(["--window", "7", "--r2", "3"]))
    bands = strategic_from_args(p.parse_args(["--window-bands", "0.05:0.9995,0.2:0.99"])).window_bands
    assert bands == ((0.05, 0.9995), (0.2, 0.99))
    from saess.evaluation.config import strategic_flags

    assert strategic_flags(StrategicConfig(window_bands=bands)) == ["--window-bands", "0.05:0.9995,0.2:0.99"]
    with pytest.raises(SystemExit):  # argparse names the flag and the expected form
        p.parse_args(["--window-bands", "0.05"])
