"""`saess reproduce [--quick | --full]`: the paper's experiments at small scale, then RESULTS.md."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import torch

from saess.flags import add_device_args, one_line_errors
from saess.reproduce.plan import GROUPS, get_scale, parse_only
from saess.reproduce.report import write_results
from saess.reproduce.run import Reproduction

logger = logging.getLogger("saess")


def cmd_reproduce(args) -> int:
    scale = get_scale("quick" if args.quick else "full" if args.full else "standard")
    out = Path(args.out or ("runs/reproduce-quick" if args.quick else
                            "runs/reproduce-full" if args.full else "runs/reproduce"))
    results = Path(args.results) if args.results else out / "RESULTS.md"
    figs = Path(args.figures) if args.figures else results.parent / "figures"
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    if not args.report_only:
        rep = Reproduction(scale, out, groups=parse_only(args.only), train_root=Path(args.train_root),
                           allow_train=not args.no_train, device=args.device, dtype=args.dtype,
                           batch_size=args.batch_size, quiet=args.quiet, registry=args.registry)
        state = rep.run()
        bad = {k: v for k, v in state["steps"].items() if v["status"] != "done"}
        for k, v in bad.items():
            logger.warning("step %s: %s (%s)", k, v["status"], v.get("note"))
    path = write_results(out, results, figs, Path(args.discussion) if args.discussion else None)
    logger.info("wrote %s (figures in %s) in %.0f s", path, figs, time.time() - t0)
    sys.stdout.write(f"{path}\n")
    return 0


def register_reproduce_commands(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="run the paper's experiments at small scale and write RESULTS.md",
        description="Main table (base, sft, aug, default under every attack), ablations, schedules with their "
                    "cost, the probe study, hyperparameters and a side-by-side with the paper, all through "
                    "`saess eval` run folders under --out (resumable: run again with the same --out). "
                    "See docs/reproduce.md.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a reduced version of everything (~20 min on 2 CPU cores)")
    mode.add_argument("--full", action="store_true",
                      help="the paper's protocol (all prompts, full decoding grid, nanoGCG defaults): GPU hours")
    p.add_argument("--out", default=None, help="reproduction folder (default runs/reproduce[-quick|-full])")
    p.add_argument("--results", default=None, help="where to write RESULTS.md (default OUT/RESULTS.md)")
    p.add_argument("--figures", default=None, help="folder of the PNG figures (default: figures/ next to RESULTS.md)")
    p.add_argument("--discussion", default=None, metavar="FILE",
                   help="a Markdown file inserted at the top of RESULTS.md (the written discussion)")
    p.add_argument("--only", default=None, help=f"comma-separated groups: {','.join(GROUPS)} (default: all)")
    p.add_argument("--train-root", default="runs",
                   help="where trained ablation models live as train-NAME/final (default runs/)")
    p.add_argument("--no-train", action="store_true", help="skip the steps whose model is not trained yet")
    p.add_argument("--report-only", action="store_true", help="only rewrite RESULTS.md from what --out holds")
    add_device_args(p)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    one_line_errors(p)
    p.set_defaults(func=cmd_reproduce)
