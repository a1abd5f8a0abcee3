"""`saess generate`, `saess chat` and `saess bench`: generation with the safety signal.

Registered into `saess.cli` through `_EXTRA_COMMANDS`; helpers of `saess.cli` are
imported inside functions (that module imports this one at its end).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from saess.errors import InputError, ModelError, SaessError

logger = logging.getLogger("saess")


# --- arguments -------------------------------------------------------------------------
def _one_line_errors(p: argparse.ArgumentParser) -> None:
    """Bad flags: one line `saess CMD: error: ...` on stderr, exit 2 (no usage block)."""

    def error(message: str):
        print(f"{p.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)

    p.error = error


def _add_strategic_args(p: argparse.ArgumentParser) -> None:
    from saess.generation.config import RELIANCES, SCHEDULES, StrategicConfig

    d = StrategicConfig()
    g = p.add_argument_group("safety signal (METHOD.md sections 4-6)")
    # No `choices=`: StrategicConfig validates and names the valid values in one line.
    g.add_argument("--reliance", default=d.reliance,
                   help=f"{' | '.join(RELIANCES)} (default: {d.reliance})")
    g.add_argument("--schedule", default=d.schedule,
                   help=f"when [CLS] is re-evaluated: {' | '.join(SCHEDULES)} (default: {d.schedule})")
    g.add_argument("--period", type=int, default=d.period, help=f"periodic schedule: every K tokens ({d.period})")
    g.add_argument("--r1", type=int, default=d.r1, help=f"rule 1 window: first N response tokens ({d.r1})")
    g.add_argument("--r2", type=int, default=d.r2, help=f"rule 2 window: latest N tokens ({d.r2})")
    g.add_argument("--r3", type=int, default=d.r3, help=f"rule 3 window: N tokens after the trigger ({d.r3})")
    g.add_argument("--tau", type=int, default=d.tau,
                   help=f"consecutive malicious re-evaluations before acting on a benign start ({d.tau})")
    g.add_argument("--threshold", type=float, default=None,
                   help="P(malicious) threshold (default: the model's own, 0.5 unless `saess calibrate` set it)")


def _add_sampling_args(p: argparse.ArgumentParser, max_new_tokens: int = 128) -> None:
    g = p.add_argument_group("decoding")
    g.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    g.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--top-k", type=int, default=0)
    g.add_argument("--seed", type=int, default=0, help="sampling seed (each batch starts from it)")


def _configs(args):
    """Build (and so validate) the configs before any model is loaded."""
    from saess.generation.config import SamplingConfig, StrategicConfig

    strategic = StrategicConfig(reliance=args.reliance, schedule=args.schedule, period=args.period, r1=args.r1,
                                r2=args.r2, r3=args.r3, tau=args.tau, threshold=args.threshold)
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens, do_sample=args.do_sample,
                              temperature=args.temperature, top_p=args.top_p, top_k=args.top_k, seed=args.seed)
    return strategic, sampling


def _load(args, strategic):
    from saess.cli import _device, _dtype
    from saess.model import loading

    if getattr(args, "batch_size", 1) < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    model = loading.load_safety_model(args.model, dtype=_dtype(args.dtype), device=_device(args.device))
    extra = getattr(model.config, "extra", None) or {}
    if strategic.reliance != "off" and extra.get("signal") is False:
        raise ModelError(f"model {args.model!r} has no trained safety signal (its config says signal: false); "
                         f"--reliance {strategic.reliance} needs one: use --reliance off")
    if args.model == "base" and strategic.reliance in ("medium", "high"):
        logger.warning("model 'base' has an untrained safety head: its p_malicious carries no information, "
                       "so --reliance %s acts on noise", strategic.reliance)
    return model


# --- generate --------------------------------------------------------------------------
def _generate_rows(gen, rows, prefills, sampling, batch_size, on_done):
    """Batched generation; a failing batch is retried one prompt at a time.

    `on_done(index, result_or_None, error_or_None)` is called once per row, in order.
    """
    for s in range(0, len(rows), batch_size):
        idx = list(range(s, min(s + batch_size, len(rows))))
        try:
            res = gen.generate([rows[i].prompt for i in idx], [prefills[i] for i in idx], sampling)
        except Exception as e:  # noqa: BLE001 - retried row by row below, then reported per row
            if len(idx) > 1:
                logger.info("batch of lines %d-%d failed (%s); retrying one by one",
                            rows[idx[0]].line, rows[idx[-1]].line, e)
            for i in idx:
                try:
                    r = gen.generate([rows[i].prompt], [prefills[i]], sampling)[0]
                except Exception as e1:  # noqa: BLE001
                    msg = str(e1) if isinstance(e1, SaessError) else f"{type(e1).__name__}: {e1}"
                    on_done(i, None, msg)
                else:
                    on_done(i, r, None)
            continue
        for i, r in zip(idx, res, strict=True):
            on_done(i, r, None)


def cmd_generate(args) -> int:
    from tqdm import tqdm

    from saess.cli import AtomicJsonl
    from saess.data.files import read_prompt_file
    from saess.generation.engine import SafeGenerator

    strategic, sampling = _configs(args)
    rows = read_prompt_file(args.prompts)
    if args.prefill is not None:
        prefills = [args.prefill or None] * len(rows)
    elif args.prefill_from_target:
        prefills = [r.target for r in rows]
    else:
        prefills = [None] * len(rows)
    model = _load(args, strategic)
    gen = SafeGenerator(model, strategic)
    failed = 0
    with AtomicJsonl(args.out) as out, tqdm(total=len(rows), desc="generate", unit="prompt", file=sys.stderr,
                                            disable=args.quiet) as bar:
        def on_done(i, res, err):
            nonlocal failed
            row = rows[i]
            if err is not None:
                failed += 1
                logger.warning("%s, line %d: %s", args.prompts, row.line, err)
                out.write({"line": row.line, "prompt": row.prompt, "prefill": prefills[i], "error": err})
            else:
                d = res.to_dict()
                d["p_malicious_query"] = round(d["p_malicious_query"], 6)
                out.write({"line": row.line, **d})
            bar.update(1)

        _generate_rows(gen, rows, prefills, sampling, args.batch_size, on_done)
    if failed:
        logger.warning("%d of %d prompts failed (their lines carry an 'error' field)", failed, len(rows))
    return 1 if failed == len(rows) else 0


# --- chat ------------------------------------------------------------------------------
def format_trace(res) -> str:
    """One line: the query judgement, each re-evaluation, guide insertions, the finish."""
    parts = []
    for t in res.trace:
        mark = "!" if t["decision"] == "malicious" else ""
        if t["step"] == 0:
            s = f"query {t['p_malicious']:.2f}{mark}"
        else:
            s = f"@{t['step']} {t['p_malicious']:.2f}{mark} r{t['rule']}"
        if t.get("false_trigger"):
            s += " false-trigger"
        if "inserted_guide_at" in t:
            s += f" guide@{t['inserted_guide_at']}"
        parts.append(s)
    if len(parts) > 12:  # keep it compact: the first 6 and last 5 re-evaluations
        parts = parts[:6] + [f"... {len(parts) - 11} more"] + parts[-5:]
    return "[signal] " + " | ".join(parts) + f" || {res.finish_reason}, {res.num_tokens} tokens"


def cmd_chat(args) -> int:
    from saess.generation.engine import SafeGenerator

    strategic, sampling = _configs(args)
    model = _load(args, strategic)
    gen = SafeGenerator(model, strategic)
    tty = sys.stdin.isatty()
    if tty:
        print("saess chat: one turn per line (no history); /quit or Ctrl-D to leave", file=sys.stderr)
    while True:
        if tty:
            print("you> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:  # EOF
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        try:
            res = gen.generate([text], [args.prefill or None], sampling)[0]
        except SaessError as e:
            print(f"saess: error: {e}", file=sys.stderr)
            continue
        print(res.response, flush=True)
        if not args.no_trace:
            print(format_trace(res), flush=True)
    return 0


# --- bench -----------------------------------------------------------------------------
def cmd_bench(args) -> int:
    from rich.console import Console
    from tqdm import tqdm

    from saess.cli import _device
    from saess.generation import bench

    if args.new_tokens < 1 or args.repeats < 1 or args.threads < 0 or any(b < 1 for b in args.batch_sizes):
        raise InputError("--new-tokens, --repeats and --batch-sizes must be >= 1 (--threads >= 0)")
    bad = [s for s in args.schedules if s not in bench.SCHEDULES]
    if bad:
        raise InputError(f"unknown schedule {bad[0]!r}; expected {', '.join(bench.SCHEDULES)}")
    args.device_resolved = _device(args.device)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    args.memory = not args.no_memory
    with tqdm(total=bench.bench_steps(args), desc="bench", file=sys.stderr, disable=args.quiet) as bar:
        def progress(desc):
            bar.set_postfix_str(desc)
            bar.update(1)

        report = bench.run_bench(args, progress)
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        bench.render_table(report, Console())
    return 0


# --- registration ----------------------------------------------------------------------
def register_generation_commands(sub) -> None:
    from saess.cli import _add_model_args

    p = sub.add_parser("generate", help="generate responses with the safety signal (one JSON line per prompt)",
                       description="Generate a response to every prompt of a JSONL/CSV file with strategic "
                                   "attention and strategic decoding; one JSON line per prompt.")
    _add_model_args(p)
    p.add_argument("--prompts", required=True, help="JSONL with a 'prompt' field, or CSV with a 'prompt' column")
    p.add_argument("--prefill", default=None,
                   help="start of the assistant turn, for every prompt (prefilling attack); overrides the file")
    p.add_argument("--prefill-from-target", action="store_true",
                   help="use each row's 'target' field/column as its prefill")
    p.add_argument("--out", default=None, help="JSONL output (default: stdout)")
    _add_strategic_args(p)
    _add_sampling_args(p)
    _one_line_errors(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("chat", help="interactive generation with the safety signal's trace (one turn per line)",
                       description="Reads one user message per line from stdin (a terminal or a pipe); each "
                                   "line is a new single-turn chat. Prints the response and a [signal] line. "
                                   "Exits on EOF or /quit.")
    _add_model_args(p)
    p.add_argument("--prefill", default=None, help="start of every assistant turn")
    p.add_argument("--no-trace", action="store_true", help="do not print the [signal] line")
    _add_strategic_args(p)
    _add_sampling_args(p, max_new_tokens=256)
    _one_line_errors(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("bench", help="time generation with the safety signal against plain HF generation",
                       description="Times model.lm.generate (plain) against SafeGenerator per schedule on the "
                                   "same weights and prompts (reliance low, ignore_eos), and measures each "
                                   "configuration's peak RSS in a fresh child process. See docs/generation.md.")
    p.add_argument("--model", default="base", help="base | default | sft | aug | a path (default: base)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda if available)")
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    p.add_argument("--schedules", nargs="+", default=["first", "periodic", "every", "annealing"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-RSS child processes")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a table")
    p.add_argument("--model-factory", default=None, help=argparse.SUPPRESS)  # tests: module:function
    _one_line_errors(p)
    p.set_defaults(func=cmd_bench)
