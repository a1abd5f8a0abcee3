"""`saess eval`: attack success rate and over-refusal of one or more models (a thin layer over
`saess.evaluation.runner.run_eval`). Registered into `saess.cli` through `_EXTRA_COMMANDS`."""

from __future__ import annotations

import argparse
import logging
import sys

from saess.errors import InputError

logger = logging.getLogger("saess")

# The README's main job: base vs default on a spread subset of AdvBench; ends within
# ~15 minutes on 2 CPU cores (see docs/evaluation.md for the measured time).
QUICK = dict(models=["base", "default"], benchmark="advbench", attacks=["direct", "prefill", "decoding"],
             prefill_variants=["target"], grid="small", limit=24, benign="edgy", benign_limit=16,
             max_new_tokens=64, out="runs/eval-quick")
# The same job on the full set: all 520 prompts, the full 50-config decoding grid, all 80
# benign prompts, each attack's own token budget (256; decoding 100). GPU-scale.
FULL = dict(QUICK, limit=None, grid="full", benign_limit=None, max_new_tokens=None, out="runs/eval-full")
CUSTOM = dict(models=["default"], benchmark=None, attacks=None, prefill_variants=None, grid="small", limit=None,
              benign=None, benign_limit=None, max_new_tokens=None, out="runs/eval")


def _pos_int(s: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None


def config_from_args(args):
    """EvalConfig from the flags: --quick/--full give defaults, explicit flags win."""
    from saess.evaluation.runner import EvalConfig

    base = QUICK if args.quick else FULL if args.full else CUSTOM
    given_source = args.benchmark is not None or args.prompts is not None

    def pick(name):
        v = getattr(args, name)
        return base[name] if v is None else v

    benchmark = args.benchmark if given_source else base["benchmark"]
    prompts = args.prompts if given_source else None
    if benchmark is None and prompts is None:
        raise InputError("give --benchmark (advbench, harmbench) or --prompts FILE, or use --quick / --full")
    attacks = pick("attacks")
    if not attacks:
        raise InputError("give at least one --attack (direct, prefill, nested, decoding, template, pap), "
                         "or use --quick / --full")
    benign = pick("benign")
    prefill_variants = pick("prefill_variants")
    if given_source and args.prefill_variants is None:
        prefill_variants = None  # another benchmark: target when every row has one, else literal
    cfg = EvalConfig(
        models=pick("models"), attacks=attacks, benchmark=benchmark, prompts=prompts,
        prefill_variants=prefill_variants, grid=pick("grid"), limit=pick("limit"),
        benign=None if benign == "none" else benign, benign_limit=pick("benign_limit"),
        max_new_tokens=pick("max_new_tokens"), max_templates=args.max_templates, reliance=args.reliance,
        schedule=args.schedule, tau=args.tau, window=args.window, threshold=args.threshold, seed=args.seed, keywords=args.keywords,
        judge_model=args.judge_model, dtype=args.dtype,
        batch_size=args.batch_size, device=args.device, quiet=args.quiet)
    return cfg, args.out or base["out"]


def cmd_eval(args) -> int:
    import time

    from saess.evaluation.runner import run_eval

    cfg, out = config_from_args(args)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    t0 = time.time()
    res = run_eval(cfg, out)
    logger.info("%d samples generated now, %d reused from %s; %.0f s; wrote %s", res.generated, res.reused,
                res.out, time.time() - t0, ", ".join(res.files))
    sys.stdout.write(res.markdown + "\n")
    sys.stdout.flush()
    return 0


def register_eval_commands(sub) -> None:
    from saess.attacks import ATTACKS
    from saess.evaluation.benchmarks import BENCHMARKS

    p = sub.add_parser(
        "eval", help="attack success rate (and over-refusal) of models on a benchmark under attacks",
        description="Run attacks on a benchmark against one or more models, judge every response with the "
                    "refusal-keyword judge, and write a resumable run folder (config.json, samples.jsonl, "
                    "summary.json, summary.md, report.html, PNG plots). The main job: `saess eval --quick`. "
                    "See docs/evaluation.md.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help=f"base vs default on {QUICK['limit']} AdvBench prompts: direct, prefill (target), "
                           f"small decoding sweep; {QUICK['benign_limit']} benign edgy prompts; "
                           f"{QUICK['max_new_tokens']} new tokens (~15 min on 2 CPU cores)")
    mode.add_argument("--full", action="store_true",
                      help="the --quick job on the full set: 520 prompts, full decoding grid, 80 benign prompts")
    p.add_argument("--model", dest="models", action="append", default=None, metavar="MODEL",
                   help="base | default | sft | aug | a path; repeat for several (default: default)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--benchmark", default=None, metavar="NAME", help=f"{' | '.join(BENCHMARKS)} (HarmBench without copyright)")
    src.add_argument("--prompts", default=None, metavar="FILE", help="harmful prompts: JSONL/CSV with 'prompt' (and 'target')")
    p.add_argument("--attack", dest="attacks", action="append", default=None, metavar="NAME",
                   help=f"{' | '.join(ATTACKS)}; repeat for several")
    p.add_argument("--prefill-variants", nargs="+", default=None, metavar="V",
                   help="literal | target | tokens-N; each is its own row (default: target if every prompt "
                        "has one, else literal)")
    p.add_argument("--grid", default=None, help="decoding attack grid: small (8 configs) | full (50)")
    p.add_argument("--benign", default=None,
                   help="benign prompts for over-refusal: edgy (packaged, held out) | FILE | none")
    p.add_argument("--benign-limit", type=_pos_int, default=None, help="at most N benign prompts (spread evenly)")
    p.add_argument("--limit", type=_pos_int, default=None, help="at most N benchmark prompts (spread evenly)")
    p.add_argument("--max-new-tokens", type=_pos_int, default=None,
                   help="for every attack (default: each attack's own; 64 with --quick)")
    p.add_argument("--max-templates", type=_pos_int, default=5, help="template attack: templates per prompt (5)")
    p.add_argument("--reliance", default="medium",
                   help="for models with a trained signal: off | low | medium | high (default: medium)")
    p.add_argument("--schedule", default="annealing",
                   help="for models with a trained signal: first | periodic | every | annealing (default)")
    p.add_argument("--tau", type=_pos_int, default=None,
                   help="consecutive malicious re-evaluations before the guide is inserted mid-response "
                        "(default: the generator's, 2)")
    p.add_argument("--window", type=_pos_int, default=None, metavar="R",
                   help="re-evaluation window sizes r1 = r2 = r3 = R (default: the generator's, 10)")
    p.add_argument("--threshold", type=float, default=None, metavar="P",
                   help="P(malicious) at or above which the head's verdict is malicious, in (0, 1) "
                        "(default: the model's own, 0.5 for the packaged models)")
    p.add_argument("--keywords", default="gcg", help="refusal keyword list: gcg | gcg-short | harmbench")
    p.add_argument("--judge-model", default=None, metavar="DIR",
                   help="also judge with a local guard model (Llama-Guard-style prompt; any transformers causal "
                        "LM folder): a case is jailbroken only if no refusal keyword AND the guard says unsafe")
    p.add_argument("--seed", type=_pos_int, default=0)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda if available)")
    p.add_argument("--batch-size", type=_pos_int, default=8)
    p.add_argument("--threads", type=_pos_int, default=None,
                   help="torch CPU threads (default: torch's choice); 1 is much faster on a CPU shared with "
                        "other jobs")
    p.add_argument("--out", default=None,
                   help="run folder; start again with the same --out to resume (default: runs/eval-quick, "
                        "runs/eval-full or runs/eval)")
    from saess.generation.cli import _one_line_errors

    _one_line_errors(p)
    p.set_defaults(func=cmd_eval)


def cmd_table(args) -> int:
    from saess.reports.combine import write_combined

    md = write_combined(args.runs, args.out, args.plot)
    sys.stdout.write(md)
    sys.stdout.flush()
    return 0


def register_table_command(sub) -> None:
    p = sub.add_parser(
        "table", help="one ASR table (and plot) from several `saess eval` run folders",
        description="Put the results of several finished `saess eval` run folders (for example one per model, "
                    "run side by side) into one Markdown table: a row per benchmark and attack, a column per "
                    "model, over-refusal, and the command that made each folder.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (each with summary.json)")
    p.add_argument("--out", default=None, metavar="FILE", help="write the Markdown here (also printed)")
    p.add_argument("--plot", default=None, metavar="PNG", help="also write a grouped-bar ASR plot")
    from saess.generation.cli import _one_line_errors

    _one_line_errors(p)
    p.set_defaults(func=cmd_table)
