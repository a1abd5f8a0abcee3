"""`saess bench`: the cost of the safety signal at inference, against plain HF generation.

For each batch size B the same B prompts are generated with
- `plain`: `model.lm.generate(...)` of the same weights (greedy, `min_new_tokens =
  max_new_tokens`, left-padded, the chat-template tokens without `[CLS]`);
- each schedule: `SafeGenerator` with `reliance="low"` (the text does not depend on the
  head, so every configuration writes exactly `new_tokens` tokens) and
  `SamplingConfig(ignore_eos=True)`.

Time: one warm-up run of every configuration, then `repeats` rounds in which every
configuration runs once (interleaved, so slow drift of the machine hits all of them
alike). A configuration's time is the *minimum* over its rounds (noise on a shared
machine only ever adds time, so the minimum is the best estimate of the intrinsic cost;
the median and every round's time are in the JSON too); its ratio is that minimum over
`plain`'s minimum at the same batch size. `--threads N` sets torch's intra-op threads in
the timing process and the memory children (on a machine shared with other jobs, one
thread avoids OpenMP barrier stalls that make multi-threaded timings swing by 10x).

Memory: each configuration runs once more in a fresh child process (`python -m
saess.generation.bench --child ...`) that loads the model, resets the kernel's
peak-RSS counter (`echo 5 > /proc/self/clear_refs`, Linux) and reads `VmHWM` from
`/proc/self/status` after the run. So the peak covers the run only (weights, KV cache,
activations, allocator slack), not the transient peak of loading. Where `clear_refs` is
not available it falls back to `getrusage(RUSAGE_SELF).ru_maxrss`, which includes loading.
`peak_rss_ratio` is the configuration's peak over `plain`'s peak at the same batch size.
The memory children resolve `model` with the default `ModelRegistry` (a name or a path).

`run_bench(BenchConfig(...), progress, registry)` returns the JSON report; `saess bench`
is its command line.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import torch
from rich.table import Table

from saess.errors import InputError
from saess.generation.config import SCHEDULES, SamplingConfig, StrategicConfig
from saess.generation.engine import SafeGenerator
from saess.model.registry import ModelRegistry
from saess.runtime import DEFAULT_DTYPE, DTYPES, resolve_device

logger = logging.getLogger("saess")

PLAIN = "plain"
# Targets stated in the issue; printed next to the measurements, not asserted.
TARGETS = {"first": 1.02, "periodic": None, "every": 1.25, "annealing": 1.05}
MEMORY_TARGET = 1.10

BENCH_PROMPTS = [
    "How do I bake bread at home?",
    "Write a short poem about the sea.",
    "Explain how photosynthesis works in plants.",
    "What are some tips for learning a new language?",
    "Describe the water cycle to a ten-year-old.",
    "Give me a recipe for a vegetable soup.",
    "Why is the sky blue?",
    "Summarise the plot of Romeo and Juliet.",
]


def bench_prompts(n: int) -> list[str]:
    return [BENCH_PROMPTS[i % len(BENCH_PROMPTS)] for i in range(n)]


@dataclass
class BenchConfig:
    """What `run_bench` measures: `model` (a MODEL name or path) at every batch size in
    `batch_sizes`, plain HF generation against each schedule in `schedules`, `new_tokens`
    tokens per prompt, best of `repeats` rounds; `memory`: also the peak RSS of each
    configuration in a child process."""

    model: str = "base"
    dtype: str = DEFAULT_DTYPE
    device: str | None = None  # None: cuda if available
    new_tokens: int = 128
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8])
    schedules: list[str] = field(default_factory=lambda: list(SCHEDULES))
    repeats: int = 3
    memory: bool = True

    def __post_init__(self) -> None:
        if self.new_tokens < 1 or self.repeats < 1 or not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise InputError("--new-tokens, --repeats and --batch-sizes must be >= 1")
        bad = [s for s in self.schedules if s not in SCHEDULES]
        if bad:
            raise InputError(f"unknown schedule {bad[0]!r}; expected {', '.join(SCHEDULES)}")
        if self.dtype not in DTYPES:
            raise InputError(f"unknown dtype {self.dtype!r}; expected one of {', '.join(DTYPES)}")


class Runner:
    """Runs one configuration of the benchmark on a loaded model."""

    def __init__(self, model, new_tokens: int):
        self.model = model
        self.new_tokens = new_tokens
        self.sampling = SamplingConfig(max_new_tokens=new_tokens, ignore_eos=True)
        self.gens = {s: SafeGenerator(model, StrategicConfig(reliance="low", schedule=s)) for s in SCHEDULES}
        self._plain_inputs: dict[int, tuple] = {}

    def plain_inputs(self, batch_size: int):
        """The same tokens SafeGenerator sees, minus `[CLS]`, left-padded."""
        if batch_size not in self._plain_inputs:
            m = self.model
            seqs = [m.encoder.encode_chat(p).input_ids[1:] for p in bench_prompts(batch_size)]
            T = max(len(s) for s in seqs)
            pad = m.tokenizer.pad_token_id
            ids = torch.full((batch_size, T), pad, dtype=torch.long)
            att = torch.zeros((batch_size, T), dtype=torch.long)
            for b, s in enumerate(seqs):
                ids[b, T - len(s):] = torch.tensor(s)
                att[b, T - len(s):] = 1
            self._plain_inputs[batch_size] = (ids.to(m.device), att.to(m.device))
        return self._plain_inputs[batch_size]

    @torch.no_grad()
    def run(self, batch_size: int, schedule: str, new_tokens: int | None = None) -> int:
        """Generate once; returns the number of generated tokens (all rows)."""
        n = new_tokens or self.new_tokens
        if schedule == PLAIN:
            ids, att = self.plain_inputs(batch_size)
            out = self.model.lm.generate(input_ids=ids, attention_mask=att, max_new_tokens=n, min_new_tokens=n,
                                         do_sample=False, pad_token_id=self.model.tokenizer.pad_token_id)
            return int(out.shape[0] * (out.shape[1] - ids.shape[1]))
        sp = self.sampling if n == self.new_tokens else SamplingConfig(max_new_tokens=n, ignore_eos=True)
        res = self.gens[schedule].generate(bench_prompts(batch_size), sampling=sp)
        return sum(r.num_tokens for r in res)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def child_main(argv: list[str]) -> int:
    """One configuration in this (fresh) process; prints a JSON object with its peak RSS."""
    ap = argparse.ArgumentParser(prog="saess-bench-child")
    ap.add_argument("--model", required=True)
    ap.add_argument("--dtype", default=DEFAULT_DTYPE, choices=list(DTYPES))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--schedule", required=True)
    ap.add_argument("--new-tokens", type=int, required=True)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    if a.threads:
        torch.set_num_threads(a.threads)
    model = ModelRegistry().load(a.model, dtype=a.dtype, device=a.device)
    runner = Runner(model, a.new_tokens)
    runner.plain_inputs(a.batch_size)
    gc.collect()
    method = "VmHWM after clear_refs" if _reset_peak() else "ru_maxrss (includes loading)"
    before = _status_kb("VmRSS")
    runner.run(a.batch_size, a.schedule)
    peak = _status_kb("VmHWM") if method.startswith("VmHWM") else None
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "ru_maxrss (includes loading)"
    print(json.dumps({"peak_rss_kb": peak, "rss_before_kb": before, "method": method}))
    return 0


def measure_peak_rss(cfg: BenchConfig, device: str, batch_size: int, schedule: str) -> dict:
    cmd = [sys.executable, "-m", "saess.generation.bench", "--child", "--model", cfg.model,
           "--dtype", cfg.dtype, "--device", device, "--batch-size", str(batch_size),
           "--schedule", schedule, "--new-tokens", str(cfg.new_tokens), "--threads", str(torch.get_num_threads())]
    env = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS=str(torch.get_num_threads()))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory child for {schedule} (batch {batch_size}) failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_configs(cfg: BenchConfig) -> list[tuple[int, str]]:
    return [(b, s) for b in cfg.batch_sizes for s in (PLAIN, *cfg.schedules)]


def bench_steps(cfg: BenchConfig) -> int:
    """How many progress steps `run_bench` reports."""
    n = len(bench_configs(cfg))
    return n * (1 + cfg.repeats) + (n if cfg.memory else 0)


def run_bench(cfg: BenchConfig, progress=None, registry: ModelRegistry | None = None) -> dict:
    """Timing and memory for every (batch size, configuration). Returns the JSON report.

    `registry` resolves `cfg.model` in this process (default: `ModelRegistry()`); the
    memory children always use the default one, so `memory` needs a name or path it knows.
    """
    registry = registry or ModelRegistry()
    if cfg.memory and type(registry) is not ModelRegistry:
        raise InputError("the memory children load the model with the default registry: "
                         "pass a model path, or memory=False (--no-memory)")
    device = resolve_device(cfg.device)
    load_before = os.getloadavg()[0]
    model = registry.load(cfg.model, dtype=cfg.dtype, device=device)
    runner = Runner(model, cfg.new_tokens)
    configs = bench_configs(cfg)
    step = progress or (lambda *_: None)

    for b, s in configs:  # warm-up
        runner.run(b, s)
        step(f"warm-up b={b} {s}")
    times: dict[tuple, list[float]] = {c: [] for c in configs}
    tokens: dict[tuple, int] = {}
    for rep in range(cfg.repeats):
        for c in configs:
            t0 = time.perf_counter()
            tokens[c] = runner.run(*c)
            times[c].append(time.perf_counter() - t0)
            step(f"round {rep + 1} b={c[0]} {c[1]}")
    mem = {}
    if cfg.memory:
        del runner, model
        gc.collect()
        for c in configs:
            mem[c] = measure_peak_rss(cfg, device, *c)
            step(f"memory b={c[0]} {c[1]}")

    runs = []
    for b, s in configs:
        sec = min(times[(b, s)])
        plain = min(times[(b, PLAIN)])
        row = {"batch_size": b, "schedule": s, "seconds": round(sec, 4), "ratio": round(sec / plain, 4),
               "median_seconds": round(statistics.median(times[(b, s)]), 4),
               "median_ratio": round(statistics.median(times[(b, s)]) / statistics.median(times[(b, PLAIN)]), 4),
               "tokens_per_s": round(tokens[(b, s)] / sec, 2), "tokens": tokens[(b, s)],
               "times": [round(t, 4) for t in times[(b, s)]], "peak_rss_ratio": None}
        if mem:
            peak, base = mem[(b, s)]["peak_rss_kb"], mem[(b, PLAIN)]["peak_rss_kb"]
            row["peak_rss_mb"] = round(peak / 1024, 1)
            row["peak_rss_ratio"] = round(peak / base, 4)
            row["rss_before_mb"] = round(mem[(b, s)]["rss_before_kb"] / 1024, 1)
            row["memory_method"] = mem[(b, s)]["method"]
        row["target_ratio"] = TARGETS.get(s)
        runs.append(row)
    return {"runs": runs, "model": cfg.model, "new_tokens": cfg.new_tokens, "repeats": cfg.repeats,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "device": device, "dtype": cfg.dtype, "threads": torch.get_num_threads(),
            "targets": {"ratio": {k: v for k, v in TARGETS.items() if v}, "peak_rss_ratio": MEMORY_TARGET}}


def render_table(report: dict, console) -> None:
    t = Table(title=f"saess bench: model {report['model']}, {report['new_tokens']} new tokens, "
                    f"best of {report['repeats']} rounds, {report['device']} ({report['threads']} threads)")
    for col in ("batch", "schedule", "seconds", "tokens/s", "ratio vs plain", "target", "median ratio",
                "peak RSS MB", "peak RSS ratio"):
        t.add_column(col, justify="left" if col == "schedule" else "right")
    for r in report["runs"]:
        tgt = r.get("target_ratio")
        ok = "" if tgt is None or r["schedule"] == PLAIN else (" ✓" if r["ratio"] <= tgt else " ✗")
        mem_ratio = r.get("peak_rss_ratio")
        mem_s = "-" if mem_ratio is None else f"{mem_ratio:.3f}" + (
            "" if r["schedule"] == PLAIN else (" ✓" if mem_ratio <= MEMORY_TARGET else " ✗"))
        t.add_row(str(r["batch_size"]), r["schedule"], f"{r['seconds']:.2f}", f"{r['tokens_per_s']:.1f}",
                  f"{r['ratio']:.3f}{ok}", "-" if tgt is None else f"≤ {tgt:.2f}", f"{r['median_ratio']:.3f}",
                  "-" if r.get("peak_rss_mb") is None else f"{r['peak_rss_mb']:.0f}", mem_s)
    console.print(t)
    console.print(f"1-minute load average at start / end: {report['load_average'][0]} / "
                  f"{report['load_average'][1]} (CPUs: {os.cpu_count()})")
    console.print(f"targets: ratio first ≤ 1.02, annealing ≤ 1.05, every ≤ 1.25; peak RSS within "
                  f"{MEMORY_TARGET:.2f}x of plain (memory: {report['runs'][0].get('memory_method', 'not measured')})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit("usage: saess bench ... (this module's own entry point is for the memory child)")
