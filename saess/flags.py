"""Command-line flags shared by the `saess` commands, derived from the config dataclasses.

A flag's default is never written here: strategic and sampling flags default to None
(not given) and `strategic_from_args` / `sampling_from_args` pass only the given ones to
`StrategicConfig` / `SamplingConfig`, so the dataclass defaults are the only defaults and
`--help` prints them from there. Dtype choices come from `saess.runtime.DTYPES`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from saess.errors import InputError
from saess.generation.config import RELIANCES, SCHEDULES, SamplingConfig, StrategicConfig, parse_window_bands
from saess.runtime import DEFAULT_DTYPE, DTYPES

MODEL_HELP = "base | default | sft | aug | a path"


def field_default(cls, name: str) -> Any:
    """The default of dataclass field `name` of `cls` (its default_factory called)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise KeyError(f"{cls.__name__}.{name} has no default")
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def one_line_errors(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Bad flags: one line `saess CMD: error: ...` on stderr, exit 2 (no usage block)."""

    def error(message: str):
        print(f"{p.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)

    p.error = error
    return p


def pos_int(s: str) -> int:
    """An argparse type: an integer (the range is checked by the config that receives it)."""
    try:
        return int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None


def add_device_args(p: argparse.ArgumentParser, dtype_default: str = DEFAULT_DTYPE) -> None:
    p.add_argument("--dtype", default=dtype_default, choices=list(DTYPES), help=f"(default: {dtype_default})")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")


def add_model_args(p: argparse.ArgumentParser, default: str = "default", batch_size: int = 8) -> None:
    p.add_argument("--model", default=default, help=f"{MODEL_HELP} (default: {default})")
    add_device_args(p)
    p.add_argument("--batch-size", type=int, default=batch_size, help=f"(default: {batch_size})")


# --- strategic attention / decoding -----------------------------------------------------
_STRATEGIC_HELP = {
    "reliance": f"{' | '.join(RELIANCES)}",
    "schedule": f"when [CLS] is re-evaluated: {' | '.join(SCHEDULES)}",
    "period": "periodic schedule: every K tokens",
    "r1": "rule 1 window: first N response tokens",
    "r2": "rule 2 window: latest N tokens",
    "r3": "rule 3 window: N tokens after the trigger",
    "tau": "consecutive malicious re-evaluations before acting on a benign start",
    "threshold": "P(malicious) at or above which the head says malicious, in (0, 1)",
    "window_threshold": "the same for response windows (rules 2-3)",
    "confirm": "on | off: a malicious query judgement waits for the query + first r1 response tokens "
               "to agree before acting, their tokens withheld (docs/generation.md, 'Confirmation')",
    "confirm_below": "with --confirm on: only query judgements with P(malicious) below P wait; surer ones act at once",
    "recheck": "a window verdict acts only when the query + that window also score at least P "
               "(docs/generation.md, 'Recheck'; 0: off)",
    "window_bands": "Q:T[,Q:T...]: a row whose query scores below Q judges its windows at T (the first band that "
                    "holds; above every Q: --window-threshold); none: off (docs/generation.md, 'Window bands')",
    "lm_reads_cls": "on | off: generated tokens attend to the [CLS] state (off: only the head reads it; "
                    "the language model writes the base model's tokens)",
    "high_waits_for_tau": "on | off: under --reliance high, a benign-started answer stops only after tau consecutive "
                          "malicious re-evaluations, as medium inserts its guide (off: at the first one, the paper's)",
}


def on_off(v: str) -> bool:
    """`on`/`off` (or true/false, yes/no, 1/0) as a bool, for flags that may also be left unset."""
    table = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}
    if v.lower() not in table:
        raise argparse.ArgumentTypeError(f"expected on or off, got {v!r}")
    return table[v.lower()]


def window_bands_arg(v: str) -> tuple[tuple[float, float], ...]:
    """`--window-bands Q:T[,Q:T...]` or `none`."""
    try:
        return parse_window_bands(v)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_STRATEGIC_TYPES = {"period": int, "r1": int, "r2": int, "r3": int, "tau": int, "threshold": float,
                    "window_threshold": float, "confirm": on_off, "confirm_below": float, "recheck": float,
                    "lm_reads_cls": on_off, "high_waits_for_tau": on_off, "window_bands": window_bands_arg}
STRATEGIC_FLAGS = tuple(_STRATEGIC_HELP)


def add_strategic_args(p: argparse.ArgumentParser, title: str = "safety signal (docs/method.md)",
                       window: bool = False, note: str = "") -> None:
    """--reliance --schedule --period --r1 --r2 --r3 --tau --threshold (and --window R = all three).

    No `choices=`: StrategicConfig validates and names the valid values in one line.
    """
    g = p.add_argument_group(title, note or None)
    for name, text in _STRATEGIC_HELP.items():
        d = field_default(StrategicConfig, name)
        shown = {"threshold": "the model's own: 0.5 unless `saess calibrate` set it",
                 "window_threshold": "the model's own when set, else --threshold",
                 "confirm": "the model's own: off unless its saess_config.json sets it",
                 "confirm_below": "the model's own when set, else 1",
                 "recheck": "the model's own when set, else 0 (off)",
                 "window_bands": "the model's own when set and no threshold is given, else none",
                 "lm_reads_cls": "the model's own: on unless its saess_config.json sets it"}.get(name, d)
        g.add_argument(f"--{name.replace('_', '-')}", dest=name, type=_STRATEGIC_TYPES.get(name, str), default=None,
                       metavar="P" if name.endswith(("threshold", "below", "recheck")) else "Q:T" if name == "window_bands" else "on|off" if _STRATEGIC_TYPES.get(name) is on_off else None,
                       help=f"{text} (default: {shown})")
    if window:
        g.add_argument("--window", type=int, default=None, metavar="R",
                       help="r1 = r2 = r3 = R (instead of --r1 --r2 --r3)")


def strategic_from_args(args: argparse.Namespace, base: StrategicConfig | None = None) -> StrategicConfig:
    """StrategicConfig of the given flags on top of `base` (default: StrategicConfig())."""
    kw = {name: getattr(args, name) for name in STRATEGIC_FLAGS if getattr(args, name, None) is not None}
    window = getattr(args, "window", None)
    if window is not None:
        if any(k in kw for k in ("r1", "r2", "r3")):
            raise InputError("give --window or --r1/--r2/--r3, not both")
        kw.update(r1=window, r2=window, r3=window)
    return dataclasses.replace(base or StrategicConfig(), **kw)


# --- sampling ---------------------------------------------------------------------------
_SAMPLING_HELP = {
    "max_new_tokens": ("--max-new-tokens", int, "tokens to generate at most"),
    "temperature": ("--temperature", float, "sampling temperature"),
    "top_p": ("--top-p", float, "nucleus sampling mass"),
    "top_k": ("--top-k", int, "sample among the K most likely tokens (0: all)"),
    "seed": ("--seed", int, "sampling seed (each batch starts from it)"),
}


def add_sampling_args(p: argparse.ArgumentParser, max_new_tokens: int | None = None) -> None:
    """Decoding flags; `max_new_tokens` overrides SamplingConfig's default for this command."""
    g = p.add_argument_group("decoding")
    g.add_argument("--do-sample", action="store_true", default=None, help="sample instead of greedy decoding")
    for name, (flag, typ, text) in _SAMPLING_HELP.items():
        d = max_new_tokens if name == "max_new_tokens" and max_new_tokens else field_default(SamplingConfig, name)
        g.add_argument(flag, type=typ, default=None, help=f"{text} (default: {d})")
    p.set_defaults(sampling_max_new_tokens=max_new_tokens)


def sampling_from_args(args: argparse.Namespace) -> SamplingConfig:
    kw = {name: getattr(args, name) for name in _SAMPLING_HELP if getattr(args, name, None) is not None}
    if args.do_sample:
        kw["do_sample"] = True
    if "max_new_tokens" not in kw and getattr(args, "sampling_max_new_tokens", None):
        kw["max_new_tokens"] = args.sampling_max_new_tokens
    return SamplingConfig(**kw)
