"""`saess eval`, `saess table`, `saess classifier-report` and `saess calibrate`: thin layers over
`saess.evaluation.runner.run_eval`, `saess.reports.combine.write_combined`,
`saess.evaluation.classifier.classifier_report` and `saess.evaluation.calibration.write_calibrated`.

The flags' defaults come from `EvalConfig` and `StrategicConfig` (`saess.flags`).
"""

from __future__ import annotations

import json
import logging
import sys
import time

import torch

from saess.attacks import ATTACKS
from saess.errors import InputError
from saess.evaluation.benchmarks import BENCHMARKS
from saess.evaluation.calibration import write_calibrated
from saess.evaluation.classifier import classifier_report
from saess.evaluation.config import GRIDS, EvalConfig
from saess.evaluation.runner import run_eval
from saess.flags import (
    MODEL_HELP,
    add_device_args,
    add_strategic_args,
    field_default,
    one_line_errors,
    pos_int,
    strategic_from_args,
)
from saess.judges import KEYWORD_LISTS
from saess.reports.combine import write_combined

logger = logging.getLogger("saess")

# The README's main job: base vs default on a spread subset of AdvBench; ends within
# ~15 minutes on 2 CPU cores (see docs/evaluation.md for the measured time).
QUICK = dict(models=["base", "default"], benchmark="advbench", attacks=["direct", "prefill", "decoding"],
             prefill_variants=["target"], grid="small", limit=24, benign="edgy", benign_limit=16,
             max_new_tokens=64, out="runs/eval-quick")
# The same job on the full set: all 520 prompts, the full 50-config decoding grid, all 80
# benign prompts, each attack's own token budget (256; decoding 100). GPU-scale.
FULL = dict(QUICK, limit=None, grid="full", benign_limit=None, max_new_tokens=None, out="runs/eval-full")
CUSTOM = dict(models=["default"], benchmark=None, attacks=None, prefill_variants=None,
              grid=field_default(EvalConfig, "grid"), limit=None, benign=None, benign_limit=None,
              max_new_tokens=None, out="runs/eval")


def config_from_args(args) -> tuple[EvalConfig, str]:
    """EvalConfig from the flags: --quick/--full give defaults, explicit flags win."""
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
        max_new_tokens=pick("max_new_tokens"), max_templates=args.max_templates,
        strategic=strategic_from_args(args), seed=args.seed, keywords=args.keywords,
        judge_model=args.judge_model, dtype=args.dtype, batch_size=args.batch_size, device=args.device,
        quiet=args.quiet)
    return cfg, args.out or base["out"]


def cmd_eval(args) -> int:
    cfg, out = config_from_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    res = run_eval(cfg, out, registry=args.registry)
    logger.info("%d samples generated now, %d reused from %s; %.0f s; wrote %s", res.generated, res.reused,
                res.out, time.time() - t0, ", ".join(res.files))
    sys.stdout.write(res.markdown + "\n")
    sys.stdout.flush()
    return 0


def register_eval_commands(sub) -> None:
    d = EvalConfig
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
                   help=f"{MODEL_HELP}; repeat for several (default: {CUSTOM['models'][0]})")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--benchmark", default=None, metavar="NAME",
                     help=f"{' | '.join(BENCHMARKS)} (HarmBench without copyright)")
    src.add_argument("--prompts", default=None, metavar="FILE",
                     help="harmful prompts: JSONL/CSV with 'prompt' (and 'target')")
    p.add_argument("--attack", dest="attacks", action="append", default=None, metavar="NAME",
                   help=f"{' | '.join(ATTACKS)}; repeat for several")
    p.add_argument("--prefill-variants", nargs="+", default=None, metavar="V",
                   help="literal | target | tokens-N; each is its own row (default: target if every prompt "
                        "has one, else literal)")
    p.add_argument("--grid", default=None,
                   help=f"decoding attack grid: {' | '.join(GRIDS)} (default: {CUSTOM['grid']})")
    p.add_argument("--benign", default=None,
                   help="benign prompts for over-refusal: edgy | xstest | gsm8k (packaged, held out) | FILE | none")
    p.add_argument("--benign-limit", type=pos_int, default=None, help="at most N benign prompts (spread evenly)")
    p.add_argument("--limit", type=pos_int, default=None, help="at most N benchmark prompts (spread evenly)")
    p.add_argument("--max-new-tokens", type=pos_int, default=None,
                   help=f"for every attack (default: each attack's own; {QUICK['max_new_tokens']} with --quick)")
    p.add_argument("--max-templates", type=pos_int, default=field_default(d, "max_templates"),
                   help=f"template attack: templates per prompt ({field_default(d, 'max_templates')})")
    add_strategic_args(p, window=True, note="used for models with a trained signal; every other model is "
                                            "generated as the plain language model (reliance off)")
    p.add_argument("--keywords", default=field_default(d, "keywords"),
                   help=f"refusal keyword list: {' | '.join(KEYWORD_LISTS)} (default: {field_default(d, 'keywords')})")
    p.add_argument("--judge-model", default=None, metavar="DIR",
                   help="also judge with a local guard model (Llama-Guard-style prompt; any transformers causal "
                        "LM folder): a case is jailbroken only if no refusal keyword AND the guard says unsafe")
    p.add_argument("--seed", type=pos_int, default=field_default(d, "seed"))
    add_device_args(p, dtype_default=field_default(d, "dtype"))
    p.add_argument("--batch-size", type=pos_int, default=field_default(d, "batch_size"))
    p.add_argument("--threads", type=pos_int, default=None,
                   help="torch CPU threads (default: torch's choice); 1 is much faster on a CPU shared with "
                        "other jobs")
    p.add_argument("--out", default=None,
                   help=f"run folder; start again with the same --out to resume (default: {QUICK['out']}, "
                        f"{FULL['out']} or {CUSTOM['out']})")
    one_line_errors(p)
    p.set_defaults(func=cmd_eval)


def cmd_table(args) -> int:
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
    one_line_errors(p)
    p.set_defaults(func=cmd_table)


# --- the classifier ----------------------------------------------------------------------
def cmd_classifier_report(args) -> int:
    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be >= 1")
    model = args.registry.load(args.model)
    res = classifier_report(model, args.model, args.limit, args.batch_size)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


def register_classifier_commands(sub) -> None:
    p = sub.add_parser("classifier-report", help="AUROC/TPR/FPR of the [CLS] head on held-out prompts, and "
                                                 "the LM loss on benign answers against the base model")
    p.add_argument("--model", default="default")
    p.add_argument("--limit", type=int, default=None, help="at most N prompts per set")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", default=None, help="write the JSON here too")
    p.set_defaults(func=cmd_classifier_report)


def cmd_calibrate(args) -> int:
    res = write_calibrated(args.model, args.out, args.max_fpr, args.batch_size, progress=not args.quiet,
                           registry=args.registry, window_answers=args.window_answers,
                           window_max_fpr=args.window_max_fpr)
    print(json.dumps(res, indent=2))
    return 0


def register_calibrate_command(sub) -> None:
    p = sub.add_parser(
        "calibrate", help="choose the head's decision threshold for a false-positive budget on held-out "
                          "training prompts; writes a calibrated copy of the model",
        description="Score the prompts of the training recipe's validation split (held out by prompt from "
                    "training; no evaluation benchmark) with the model's [CLS] head, choose the lowest "
                    "threshold whose false-positive rate there is at most --max-fpr, and write a copy of the "
                    "model folder with that threshold in saess_config.json (the generator and `saess eval` "
                    "use a model's own threshold). See docs/training.md.")
    p.add_argument("--model", required=True, help="default | sft | aug | a saved saess model folder")
    p.add_argument("--max-fpr", type=float, default=0.05, help="false-positive budget on the benign prompts (0.05)")
    p.add_argument("--window-answers", default=None, metavar="JSONL",
                   help="base-model answers (a training run's data/retain.jsonl): also calibrate the window "
                        "threshold (rules 2-3) per answer on the validation split's benign prompts")
    p.add_argument("--window-max-fpr", type=float, default=0.05,
                   help="share of benign validation answers that rules 2-3 may flag (0.05)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", required=True, metavar="DIR", help="the calibrated copy (a new folder)")
    one_line_errors(p)
    p.set_defaults(func=cmd_calibrate)

