"""Reading a user's prompt file (shared by the CLI commands `classify`, `generate`, `eval`).

Formats, chosen by the file extension:
- JSONL (``.jsonl``, ``.json`` with one object per line): field ``prompt`` (required); optional
  ``target`` (a prefill / AdvBench-style target), ``category``, ``label``, ``harmful_answer``
  (a real complying answer: its first N tokens are the ``prefill:tokens-N`` attack).
- CSV (``.csv``, ``.tsv`` is not supported): a header with a ``prompt`` column, or ``goal`` as an
  alias (AdvBench layout); optional ``target``, ``category``, ``label``, ``harmful_answer`` columns.

``label`` accepts benign / malicious / 0 / 1 (also "safe"/"harmful"/"unsafe", any case);
empty means unknown. Blank JSONL lines are skipped. Every error names the file, the line and
the field, and is an `InputError`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from saess.data.base import BENIGN, MALICIOUS
from saess.errors import InputError

LABELS = {
    "benign": BENIGN, "safe": BENIGN, "0": BENIGN,
    "malicious": MALICIOUS, "harmful": MALICIOUS, "unsafe": MALICIOUS, "1": MALICIOUS,
}


@dataclass
class PromptRow:
    prompt: str
    line: int  # 1-based line of the file where the row starts
    target: str | None = None
    category: str | None = None
    label: int | None = None  # 0 benign, 1 malicious, None unknown
    harmful_answer: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def parse_label(value, where: str) -> int | None:
    """benign/malicious/0/1 (str, int or bool) -> 0/1; None or "" -> None; anything else: InputError."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if value in (0, 1):
            return value
    elif isinstance(value, str):
        v = value.strip().lower()
        if not v:
            return None
        if v in LABELS:
            return LABELS[v]
    raise InputError(f"{where}: field 'label' has invalid value {value!r} (use benign, malicious, 0 or 1)")


def _opt_str(value, where: str, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: field '{name}' must be a string, got {type(value).__name__}")
    return value if value.strip() else None


def _row(obj: dict, path: Path, line: int, prompt_field: str = "prompt") -> PromptRow:
    where = f"{path}, line {line}"
    p = obj.get(prompt_field)
    if p is None:
        raise InputError(f"{where}: missing field 'prompt'")
    if not isinstance(p, str):
        raise InputError(f"{where}: field 'prompt' must be a string, got {type(p).__name__}")
    if not p.strip():
        raise InputError(f"{where}: field 'prompt' is empty")
    return PromptRow(
        prompt=p.strip(),
        line=line,
        target=_opt_str(obj.get("target"), where, "target"),
        category=_opt_str(obj.get("category"), where, "category"),
        label=parse_label(obj.get("label"), where),
        harmful_answer=_opt_str(obj.get("harmful_answer"), where, "harmful_answer"),
    )


def _read_jsonl(path: Path, text: str) -> list[PromptRow]:
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}, line {i}: not valid JSON ({e.msg}, column {e.colno})") from e
        if not isinstance(obj, dict):
            raise InputError(f"{path}, line {i}: expected a JSON object with a 'prompt' field, "
                             f"got {type(obj).__name__}")
        rows.append(_row(obj, path, i))
    return rows


def _read_csv(path: Path, text: str) -> list[PromptRow]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [f.strip() for f in (reader.fieldnames or [])]
    reader.fieldnames = fields
    if "prompt" in fields:
        key = "prompt"
    elif "goal" in fields:
        key = "goal"
    else:
        raise InputError(f"{path}, line 1: no 'prompt' column (or 'goal'); columns are {', '.join(fields)}")
    rows = []
    start = 2
    for obj in reader:
        if None in obj:  # more cells than header columns
            raise InputError(f"{path}, line {start}: more cells than the header has columns")
        if all(not (v or "").strip() for v in obj.values()):
            start = reader.line_num + 1
            continue
        rows.append(_row(obj, path, start, key))
        start = reader.line_num + 1
    return rows


def read_prompt_file(path: str | Path) -> list[PromptRow]:
    """Read a JSONL or CSV prompt file into `PromptRow`s (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a .jsonl or .csv file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    if not text.strip():
        raise InputError(f"{path}: file is empty")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _read_csv(path, text)
    elif suffix in (".jsonl", ".json", ".ndjson"):
        rows = _read_jsonl(path, text)
    else:
        raise InputError(f"{path}: unknown file type '{suffix}' (use .jsonl or .csv)")
    if not rows:
        raise InputError(f"{path}: file has no prompts")
    return rows


def read_prompts(path: str | Path) -> list[str]:
    """Just the prompt strings of a prompt file."""
    return [r.prompt for r in read_prompt_file(path)]
