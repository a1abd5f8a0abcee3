"""`saess` command line: a thin layer over importable functions.

Every user-facing failure is a `SaessError`: printed as one line `saess: error: ...` on
stderr with exit code 2. Results go to a `.part` file renamed at the end, so a failed run
never truncates or corrupts an `--out` file that already existed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from saess.errors import InputError, SaessError

logger = logging.getLogger("saess")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="default", help="base | default | sft | aug | a path (default: default)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--batch-size", type=int, default=8)


def _device(arg: str | None) -> str:
    import torch

    if arg:
        return arg
    return "cuda" if torch.cuda.is_available() else "cpu"


def _dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


class AtomicJsonl:
    """Write JSON lines to `path.part`, renamed to `path` on success; stdout when path is None."""

    def __init__(self, path: str | None):
        self.path = Path(path) if path else None
        self.tmp = self.path.with_name(self.path.name + ".part") if self.path else None
        self.f = None

    def __enter__(self):
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.f = open(self.tmp, "w", encoding="utf-8")
        else:
            self.f = sys.stdout
        return self

    def write(self, obj: dict) -> None:
        self.f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.f.flush()

    def __exit__(self, exc_type, exc, tb):
        if self.path:
            self.f.close()
            if exc_type is None:
                os.replace(self.tmp, self.path)
            else:
                self.tmp.unlink(missing_ok=True)
        return False


def cmd_classify(args) -> int:
    from tqdm import tqdm

    from saess.data.files import read_prompt_file
    from saess.model.loading import load_safety_model

    rows = read_prompt_file(args.prompts)
    t0 = time.time()
    model = load_safety_model(args.model, dtype=_dtype(args.dtype), device=_device(args.device))
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
    _add_model_args(p)
    p.add_argument("--prompts", required=True, help="JSONL with a 'prompt' field, or CSV with a 'prompt' column")
    p.add_argument("--out", default=None, help="JSONL output (default: stdout)")
    p.set_defaults(func=cmd_classify)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list = []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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


from saess.generation.cli import register_generation_commands  # noqa: E402

_EXTRA_COMMANDS.append(register_generation_commands)

from saess.training.cli import register_training_commands  # noqa: E402

_EXTRA_COMMANDS.append(register_training_commands)

from saess.evaluation.classifier import register_calibrate_command, register_classifier_commands  # noqa: E402

_EXTRA_COMMANDS.append(register_classifier_commands)
_EXTRA_COMMANDS.append(register_calibrate_command)

from saess.evaluation.cli import register_eval_commands, register_table_command  # noqa: E402

_EXTRA_COMMANDS.append(register_eval_commands)
_EXTRA_COMMANDS.append(register_table_command)

from saess.reproduce.cli import register_reproduce_commands  # noqa: E402

_EXTRA_COMMANDS.append(register_reproduce_commands)

from saess.evaluation.judge_cli import register_judge_command  # noqa: E402

_EXTRA_COMMANDS.append(register_judge_command)


if __name__ == "__main__":
    sys.exit(main())