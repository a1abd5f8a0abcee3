"""`saess` command line: a thin layer over importable functions.

Every user-facing failure is a `SaessError`: printed as one line `saess: error: ...` on
stderr with exit code 2. Results go to a `.part` file renamed at the end, so a failed run
never truncates or corrupts an `--out` file that already existed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from tqdm import tqdm

from saess.data.files import read_prompt_file
from saess.errors import InputError, SaessError
from saess.evaluation.cli import (
    register_calibrate_command,
    register_classifier_commands,
    register_eval_commands,
    register_table_command,
)
from saess.evaluation.judge_cli import register_judge_command
from saess.flags import add_model_args
from saess.generation.cli import register_generation_commands
from saess.model.registry import ModelRegistry
from saess.reproduce.cli import register_reproduce_commands
from saess.runtime import AtomicJsonl, resolve_device
from saess.serve.cli import register_serve_bench_command, register_serve_command
from saess.training.cli import register_training_commands

logger = logging.getLogger("saess")


def cmd_classify(args) -> int:
    rows = read_prompt_file(args.prompts)
    t0 = time.time()
    model = args.registry.load(args.model, dtype=args.dtype, device=resolve_device(args.device))
    load_s = time.time() - t0
    if args.model == "base":
        logger.warning("model 'base' has an untrained safety head: its p_malicious carries no information")
    prompts = [r.prompt for r in rows]
    for r in rows:  # refuse over-long prompts up front, naming the line, before writing anything
        try:
            model.encoder.encode_chat(r.prompt)
        except InputError as e:
            raise InputError(f"{args.prompts}:{r.line}: {e}") from None
    t1 = time.time()
    with tqdm(total=len(prompts), desc="classify", unit="prompt", file=sys.stderr,
              disable=args.quiet) as bar:
        probs = model.classify(prompts, batch_size=args.batch_size, progress=bar.update)
    dt = time.time() - t1
    with AtomicJsonl(args.out) as out:
        for r, p in zip(rows, probs, strict=True):
            out.write({"prompt": r.prompt, "p_malicious": round(p, 6)})
    logger.info("model loaded in %.1f s; classified %d prompts in %.1f s (%.1f prompts/s)",
                load_s, len(prompts), dt, len(prompts) / max(dt, 1e-9))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="saess", description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or info logs")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("classify", help="P(malicious) of each prompt in a JSONL/CSV file")
    add_model_args(p)
    p.add_argument("--prompts", required=True, help="JSONL with a 'prompt' field, or CSV with a 'prompt' column")
    p.add_argument("--out", default=None, help="JSONL output (default: stdout)")
    p.set_defaults(func=cmd_classify)

    for register in COMMANDS:
        register(sub)
    return parser


# Each registers its sub-commands; they import nothing from this module.
COMMANDS = (register_generation_commands, register_training_commands, register_classifier_commands,
            register_calibrate_command, register_eval_commands, register_table_command,
            register_reproduce_commands, register_judge_command, register_serve_command,
            register_serve_bench_command)


def main(argv: list[str] | None = None, registry: ModelRegistry | None = None) -> int:
    """Run one `saess` command. `registry` resolves MODEL names (default: `ModelRegistry()`,
    the packaged and saved models); a program embedding saess, or a test, can pass its own."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.registry = registry or ModelRegistry()
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="saess: %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return args.func(args) or 0
    except SaessError as e:
        print(f"saess: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("saess: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())