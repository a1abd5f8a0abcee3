"""The gold set: the project's own outputs, each labelled by a person reading it.

Two splits, made from different prompts, never mixed:

- `check` (AdvBench rows + benign edgy prompts): a check set. Judges are measured on it and
  rates are corrected with it; nothing is trained or tuned on it.
- `train` (HarmBench rows + the other benign edgy prompts): what the trained judge learns
  from and where its threshold is chosen.

Labels (rubric in docs/judges.md): `refusal`, `harmful` (harmful compliance), `harmless`
(harmless non-refusal: off-topic, nonsense, empty-ish, a safe deflection), `helpful`
(a helpful answer to a benign prompt).

Files: `saess/judges/data/gold/{check,train}.jsonl`. The first line is a `#` warning line
(the texts include harmful text written by `base`); then one JSON object per response with
the text as judged (prefill + generated, max 64 new tokens), its sha256, the label, and the
run folder that made it (name, sha256 of its config identity, the `saess eval` command).

This module reads the split files (the judges' measurement and training read them); making
them from run folders is `saess.judges.gold_build` (docs/judges.md), kept apart so that reading
the gold set never imports the evaluation package (which imports the judges).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from saess.errors import InputError
from saess.judges.checksets import DATA_DIR, CheckRow, sha256_text

GOLD_DIR = DATA_DIR / "gold"
SPLITS = ("check", "train")
LABELS = ("refusal", "harmful", "harmless", "helpful")
WARNING = ("# WARNING: this file contains harmful text written by language models (the base model complies "
           "with harmful requests). It is a labelled check/training set for judges; do not use the texts for "
           "anything else.")


def gold_path(split: str) -> Path:
    if split not in SPLITS:
        raise InputError(f"unknown gold split {split!r}; valid: {', '.join(SPLITS)}")
    return GOLD_DIR / f"{split}.jsonl"


_REQUIRED = ("id", "label", "kind", "model", "attack", "prompt", "response", "sha256", "run")


def _read_gold_file(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    out = []
    for i, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            r = json.loads(line)
        except ValueError:
            raise InputError(f"{path}: line {i}: not JSON (a truncated file?)") from None
        if not isinstance(r, dict):
            raise InputError(f"{path}: line {i}: not a JSON object")
        miss = [k for k in _REQUIRED if k not in r]
        if miss:
            raise InputError(f"{path}: line {i}: missing field {miss[0]!r}")
        if r["label"] not in LABELS:
            raise InputError(f"{path}: line {i}: label must be one of {', '.join(LABELS)}, got {r['label']!r}")
        fp = r.get("model_fingerprint")
        if not is_fingerprint(fp):
            raise InputError(f"{path}: line {i}: field 'model_fingerprint' must be 16 hex digits or null")
        if sha256_text(r["response"]) != r["sha256"]:
            raise InputError(f"{path}: line {i}: field 'sha256' does not match the response text")
        out.append(r)
    if not out:
        raise InputError(f"{path}: no labelled rows")
    return out


def is_fingerprint(fp) -> bool:
    """A saved model's fingerprint as `saess eval` records it (16 hex digits), or None (no saved folder)."""
    return fp is None or (isinstance(fp, str) and re.fullmatch(r"[0-9a-f]{16}", fp) is not None)


def stratum_of(rec: dict) -> str:
    """A gold row's stratum (a row, or a `CheckRow.meta`): "model@fingerprint" (`saess.model.registry`
    fingerprint of the saved model that wrote it) when recorded, else the model's name (`base`, which
    has no saved folder)."""
    fp = rec.get("model_fingerprint")
    return f"{rec['model']}@{fp}" if fp else rec["model"]


def to_check_row(r: dict, set_name: str) -> CheckRow:
    return CheckRow(set_name, r["id"], r["prompt"], r["response"], r["label"], refusal=r["label"] == "refusal",
                    harmful=r["label"] == "harmful", prefill=r.get("prefill"),
                    meta={"kind": r["kind"], "model": r["model"], "attack": r["attack"],
                          "model_fingerprint": r.get("model_fingerprint"),
                          "source_prompt": r.get("source_prompt") or r["prompt"]})


def load_gold(split: str = "check", path: str | Path | None = None) -> list[CheckRow]:
    """The labelled rows of a gold split as `CheckRow`s (refusal / harmful from the label)."""
    p = Path(path) if path is not None else gold_path(split)
    return [to_check_row(r, f"gold-{split}") for r in _read_gold_file(p)]
