"""`saess generate`, `saess chat` and `saess bench`: generation with the safety signal.

Registered into `saess.cli` by `register_generation_commands`. The flags come from the
configs (`saess.flags`); the commands are thin layers over `SafeGenerator` and
`saess.generation.bench.run_bench`.
"""

from __future__ import annotations

import json
import logging
import sys

import torch
from rich.console import Console
from tqdm import tqdm

from saess.data.files import read_prompt_file
from saess.errors import InputError, ModelError, SaessError
from saess.flags import (
    add_device_args,
    add_model_args,
    add_sampling_args,
    add_strategic_args,
    field_default,
    one_line_errors,
    sampling_from_args,
    strategic_from_args,
)
from saess.generation import bench
from saess.generation.batching import length_batches
from saess.generation.engine import SafeGenerator
from saess.runtime import AtomicJsonl, batch_then_one_by_one, error_text, resolve_device

logger = logging.getLogger("saess")


def _configs(args):
    """Build (and so validate) the configs before any model is loaded."""
    return strategic_from_args(args), sampling_from_args(args)


def _load(args, strategic):
    if getattr(args, "batch_size", 1) < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    model = args.registry.load(args.model, dtype=args.dtype, device=resolve_device(args.device))
    extra = getattr(model.config, "extra", None) or {}
    reliance = strategic.for_model(model).reliance  # the run's, else the model's own
    if reliance != "off" and extra.get("signal") is False:
        raise ModelError(f"model {args.model!r} has no trained safety signal (its config says signal: false); "
                         f"--reliance {reliance} needs one: use --reliance off")
    if args.model == "base" and reliance in ("medium", "high"):
        logger.warning("model 'base' has an untrained safety head: its p_malicious carries no information, "
                       "so --reliance %s acts on noise", reliance)
    return model


# --- generate --------------------------------------------------------------------------
def _generate_rows(gen, rows, prefills, sampling, batch_size, on_done, by_length: bool = True):
    """Batched generation; a failing batch is retried one prompt at a time.

    With `by_length`, rows are batched by token length (`saess.generation.batching`), so a
    long prompt does not pad the short ones; otherwise in file order. `on_done(index,
    result_or_None, error_or_None)` is called once per row, in file order either way.
    """
    if by_length:
        groups = length_batches([_length(gen, r.prompt, f) for r, f in zip(rows, prefills, strict=True)], batch_size)
    else:
        groups = [list(range(s, min(s + batch_size, len(rows)))) for s in range(0, len(rows), batch_size)]
    ready: dict[int, tuple] = {}
    next_out = 0
    for idx in groups:
        def told(e, idx=idx):
            logger.info("batch of lines %s failed (%s); retrying one by one",
                        ", ".join(str(rows[i].line) for i in idx), error_text(e))

        outs = batch_then_one_by_one(
            lambda ii: gen.generate([rows[i].prompt for i in ii], [prefills[i] for i in ii], sampling),
            idx, on_batch_error=told)
        for i, o in zip(idx, outs, strict=True):
            ready[i] = (o.result, o.error)
        while next_out in ready:  # write in file order as soon as the next row is done
            on_done(next_out, *ready.pop(next_out))
            next_out += 1


def _length(gen, prompt: str, prefill: str | None) -> int:
    """Tokens of the row's prompt pass; 0 for a row that does not encode (it fails alone, with its error)."""
    try:
        return len(gen.model.encoder.encode_chat(prompt, prefill=prefill or None))
    except SaessError:
        return 0


def cmd_generate(args) -> int:
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

        _generate_rows(gen, rows, prefills, sampling, args.batch_size, on_done,
                       by_length=args.batching == "length")
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
    if args.threads < 0:
        raise InputError("--threads must be >= 0")
    cfg = bench.BenchConfig(model=args.model, dtype=args.dtype, device=args.device, new_tokens=args.new_tokens,
                            batch_sizes=args.batch_sizes, schedules=args.schedules, repeats=args.repeats,
                            memory=not args.no_memory)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tqdm(total=bench.bench_steps(cfg), desc="bench", file=sys.stderr, disable=args.quiet) as bar:
        def progress(desc):
            bar.set_postfix_str(desc)
            bar.update(1)

        report = bench.run_bench(cfg, progress, registry=args.registry)
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        bench.render_table(report, Console())
    return 0


# --- registration ----------------------------------------------------------------------
def register_generation_commands(sub) -> None:
    p = sub.add_parser("generate", help="generate responses with the safety signal (one JSON line per prompt)",
                       description="Generate a response to every prompt of a JSONL/CSV file with strategic "
                                   "attention and strategic decoding; one JSON line per prompt.")
    add_model_args(p)
    p.add_argument("--prompts", required=True, help="JSONL with a 'prompt' field, or CSV with a 'prompt' column")
    p.add_argument("--prefill", default=None,
                   help="start of the assistant turn, for every prompt (prefilling attack); overrides the file")
    p.add_argument("--prefill-from-target", action="store_true",
                   help="use each row's 'target' field/column as its prefill")
    p.add_argument("--out", default=None, help="JSONL output (default: stdout)")
    p.add_argument("--batching", choices=["length", "input"], default="length",
                   help="length: batch rows of similar token length (a long prompt does not pad the short "
                        "ones); input: consecutive rows, in file order (default: length). Output is in file "
                        "order either way")
    add_strategic_args(p)
    add_sampling_args(p)
    one_line_errors(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("chat", help="interactive generation with the safety signal's trace (one turn per line)",
                       description="Reads one user message per line from stdin (a terminal or a pipe); each "
                                   "line is a new single-turn chat. Prints the response and a [signal] line. "
                                   "Exits on EOF or /quit.")
    add_model_args(p)
    p.add_argument("--prefill", default=None, help="start of every assistant turn")
    p.add_argument("--no-trace", action="store_true", help="do not print the [signal] line")
    add_strategic_args(p)
    add_sampling_args(p, max_new_tokens=256)
    one_line_errors(p)
    p.set_defaults(func=cmd_chat)

    d = bench.BenchConfig
    p = sub.add_parser("bench", help="time generation with the safety signal against plain HF generation",
                       description="Times model.lm.generate (plain) against SafeGenerator per schedule on the "
                                   "same weights and prompts (reliance low, ignore_eos), and measures each "
                                   "configuration's peak RSS in a fresh child process. See docs/generation.md.")
    p.add_argument("--model", default=field_default(d, "model"),
                   help=f"base | default | sft | aug | a path (default: {field_default(d, 'model')})")
    add_device_args(p, dtype_default=field_default(d, "dtype"))
    p.add_argument("--new-tokens", type=int, default=field_default(d, "new_tokens"))
    p.add_argument("--batch-sizes", type=int, nargs="+", default=field_default(d, "batch_sizes"))
    p.add_argument("--schedules", nargs="+", default=field_default(d, "schedules"))
    p.add_argument("--repeats", type=int, default=field_default(d, "repeats"))
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-RSS child processes")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a table")
    one_line_errors(p)
    p.set_defaults(func=cmd_bench)
