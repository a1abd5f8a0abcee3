"""The run folder on disk: `config.json` (what the run is) and `samples.jsonl` (what it did).

`samples.jsonl` is append-only, one JSON object per generation, flushed after every
batch, so a killed run loses at most the batch in flight. On a restart the lines already
there are keyed by (model, attack, case id) and not recomputed; a torn last line (the
process died mid-write) is cut off before appending. A folder holding a run with another
config is refused, so results of different configs never mix.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from saess.errors import InputError

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
SAMPLES_FILE = "samples.jsonl"


def sample_key(model: str, attack: str, case_id: str) -> str:
    return f"{model}\t{attack}\t{case_id}"


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _diff(a: dict, b: dict) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


class RunFolder:
    """`--out DIR`: checks/writes the config, reads and appends sample records."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.config_path = self.path / CONFIG_FILE
        self.samples_path = self.path / SAMPLES_FILE

    def open(self, identity: dict, info: dict, upgrade: Callable[[dict], dict] | None = None) -> None:
        """Create the folder or check that it holds a run of the same config (`identity`).

        `upgrade` maps an identity recorded by an older version to today's form before the
        comparison (the file itself is left as it is)."""
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"--out {self.path}: exists and is not a folder")
        if self.config_path.exists():
            try:
                old = json.loads(self.config_path.read_text(encoding="utf-8"))
                old_id = old["identity"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise InputError(f"--out {self.path}: unreadable {CONFIG_FILE} ({e}); use another --out") from None
            if upgrade is not None:
                old_id = upgrade(old_id)
            # A field added by a later saess version, at its default None, is the same run.
            old_id = {**{k: None for k in identity if k not in old_id}, **old_id}
            if old_id != identity:
                keys = _diff(old_id, identity)
                raise InputError(f"--out {self.path} holds a run with another config (differs in: "
                                 f"{', '.join(keys)}); use another --out, or delete that folder to start over")
        elif self.samples_path.exists():
            raise InputError(f"--out {self.path} has a {SAMPLES_FILE} but no {CONFIG_FILE}: not a saess eval "
                             "run folder; use another --out")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if not self.config_path.exists():
                write_json_atomic(self.config_path, {"identity": identity, **info})
        except OSError as e:
            raise InputError(f"--out {self.path}: cannot write: {e.strerror or e}") from None

    def read_samples(self) -> list[dict]:
        """All complete records; a torn last line is cut off the file."""
        if not self.samples_path.exists():
            return []
        data = self.samples_path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            logger.warning("%s: dropping an incomplete last line (an interrupted run)", self.samples_path)
            with open(self.samples_path, "r+b") as f:
                f.truncate(cut)
            data = data[:cut]
        out = []
        for i, line in enumerate(data.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                rec["key"]
            except (ValueError, KeyError, TypeError):
                raise InputError(f"{self.samples_path}, line {i}: not a sample record; the run folder is "
                                 "damaged (delete that line or use another --out)") from None
            out.append(rec)
        return out

    def append(self, records: list[dict]) -> None:
        if not records:
            return
        with open(self.samples_path, "a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
