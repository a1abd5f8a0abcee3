"""Human-labelled response sets that judges are measured on (check sets, never training data).

| name | rows | label | source |
| --- | --- | --- | --- |
| `pyrit-refusal` | 169 | refusal (1) / not (0) | PyRIT 1.1.0 `refusal_scorer/refusal.csv` + `refusal_extra.csv` (MIT) |
| `xstest` | 2,250 | `1_full_compliance` / `2_full_refusal` / `3_partial_refusal` | XSTest v2 completions (CC BY 4.0), shipped in `saess/judges/data/xstest/` |
| `pyrit-harm` | 604 | harm score 0 / .25 / .5 / .75 / 1 | PyRIT 1.1.0 `scorer_evals/harm/*.csv` (8 files, MIT) |
| `pyrit-objective` | 395 | the response achieves the objective (1) / not (0) | PyRIT 1.1.0 `scorer_evals/objective/*.csv` (14 files, MIT) |
| `gold-check` | see docs/judges.md | refusal / harmful / harmless / helpful | the project's own outputs, labelled by reading (`saess.judges.gold`) |

Every loader returns `CheckRow`s. A file that is missing, truncated or of another format
raises `InputError` naming the file (and the line or field); the CLI turns that into one
line and exit code 2.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field, replace
from pathlib import Path

from saess.assets import fetch
from saess.data.sources import PackagedFile, pinned_files
from saess.errors import InputError, SaessError
from saess.judges.agreement import REFUSAL_CHECK_SETS

DATA_DIR = Path(__file__).parent / "data"
XSTEST_DIR = DATA_DIR / "xstest"

# sha256 of the files as copied from paul-rottger/exaggerated-safety@d7bb5bd (../shared/data/xstest/README).
XSTEST_FILES: dict[str, str] = {
    "gpt4": "71af323af8ecdec0efae23992317721441d2cfedddedeef3248f842f4e15c9ca",
    "llama2new": "6365cc55ce0a593c7ab8785853d02784be027d97199d4077912b4313cd010099",
    "llama2orig": "cbc52550e8ba8197a3e3d97a5af078d27bae4766737cd62df80270126a87ffc6",
    "mistralguard": "0ac03817b65e019a8f5b4b3eed805086f9f7fafe538ac9ebd156f80210af6903",
    "mistralinstruct": "6a146b65a5b96ec8249729bc2db459697175125998d7cbbcc88f7688ecf31dad",
}
XSTEST_LABELS = ("1_full_compliance", "2_full_refusal", "3_partial_refusal")
XSTEST_DEV_MODELS = ("gpt4", "llama2orig")  # read while developing the refusal rules (docs/judges.md)

PYRIT_WHEEL_SHA256 = "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a"
_HARM = "pyrit/datasets/scorer_evals/harm/"
_OBJ = "pyrit/datasets/scorer_evals/objective/"


def _pyrit(files: dict[str, str]) -> tuple[PackagedFile, ...]:
    return tuple(replace(pf, wheel_sha256=PYRIT_WHEEL_SHA256) for pf in pinned_files("pyrit==1.1.0", "MIT", files))


PYRIT_HARM_FILES = _pyrit({
    _HARM + "exploits.csv": "f736d8f3d0c2a034cc38f92d587eb66d71740cd1a712bc03eda6d32148d7e6af",
    _HARM + "hate_speech.csv": "6548e2e377d054cbca9ff6751022e20dc06b59957830b7e74e54b144371fcb3b",
    _HARM + "info_integrity.csv": "d13de133267b803b7d6a483bca53039411cfe6d0ffa51df6ae441352d3a9be66",
    _HARM + "privacy.csv": "8b5f63bfc33220e00e5ed835932e1a43809664ceda4bb8f28d6bbe056ca91093",
    _HARM + "representational.csv": "f4299fd91911ee1dfc3b395d89db89004c8ad43ab5a19d720af03dbc18acc142",
    _HARM + "self_harm.csv": "2abdac174039c12e36ba1120c37d1175c34645d6dac9af657d56f82a5280f459",
    _HARM + "sexual.csv": "f20bd23321442ca3be3e65081db930eaeab7befe185eea0fb9e4313be7061505",
    _HARM + "violence.csv": "f47d6c984ee7cf6481972ef2035483f91717870d2728736421c522220c66dfea",
})
PYRIT_OBJECTIVE_FILES = _pyrit({
    _OBJ + "bias.csv": "be11ab70e918ddc1b88ef43496df2e1336ec63527f56094c2db42ab0fb490980",
    _OBJ + "chemical_biological.csv": "1f6d092b50dfc90cf95608372b70737a27ff786ee4c09f4549c63e374c1e4a38",
    _OBJ + "cyber.csv": "57fad141e2237b244737b72c3f46b33b5a3c509365d5e832d2612b34caa967cd",
    _OBJ + "exploits.csv": "315f4220f8533059b7d1ee86a492fb348e860e7f5e5fe17190c87b5736a2dc27",
    _OBJ + "harassment_bullying.csv": "ce8814ccc30ce1556bc191daaf597845fa2ab569561cb14076f09bb6d3dfdcce",
    _OBJ + "hate_speech.csv": "9572e1072e228ca50af0ed27faca07cb8b7ac03a6ba5ef905988b41f87ebdb24",
    _OBJ + "illegal_activity.csv": "27b2c07e5183c8068f09313137c3e5360954b746152bda45b6cac8ad69f753ee",
    _OBJ + "info_integrity.csv": "ae8537d73d7a627cdd2a6837c364d434d7e819188b157b935efdb09e65e7df2e",
    _OBJ + "misinformation.csv": "4a2e81aff9a0f2c6305d156b15e7ac344e77192f85c17d7ec59495ad701015be",
    _OBJ + "phishing.csv": "573f09da2265ec886b173d1cd0574943dd6cdfad2859b10daccd2d990f16e35d",
    _OBJ + "privacy.csv": "a115b3df4c812d95f358d8afa628243ff137a5051f2399ca89eb4bd866e20946",
    _OBJ + "self_harm.csv": "e8a36cdbd420650a0213798a869848f55c4c31cc6000f30bc78c4b37f96c0f8f",
    _OBJ + "sexual.csv": "b619f60677b3a941f34992914fdd06c26a49116bce9305bebab3fca7b0b06c8b",
    _OBJ + "violence.csv": "298d191a992d506439aa5150f58e8c1d1bd6b89f2bc501c66f4e5abf498debe2",
})


@dataclass(frozen=True)
class CheckRow:
    """One human-labelled response.

    refusal: the human says the response refuses (partial refusals count), None if the set
        has no refusal label. harmful: the human says the response is harmful compliance
        (achieves the objective / harm score >= 0.5), None if the set has no such label.
    label: the set's own label, as written there. prefill: the attacker's prefill (gold set).
    """

    set: str
    id: str
    prompt: str
    response: str
    label: str
    refusal: bool | None = None
    harmful: bool | None = None
    prefill: str | None = None
    meta: dict = field(default_factory=dict, compare=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None


def read_csv_rows(path: Path, need: set[str], *, skip_comments: bool = True) -> list[tuple[int, dict]]:
    """(line number, row) of a CSV whose leading '#' lines are comments; checks the columns."""
    text = _read_text(path)
    lines = text.splitlines(keepends=True)
    i = 0
    while skip_comments and i < len(lines) and lines[i].startswith("#"):
        i += 1
    reader = csv.DictReader(io.StringIO("".join(lines[i:])))
    try:
        fields = reader.fieldnames
        if not fields or not need <= set(fields):
            raise InputError(f"{path}: line {i + 1}: expected columns {sorted(need)}, got {fields}")
        out = []
        for row in reader:
            line = i + reader.line_num
            if None in row or any(row.get(k) is None for k in need):
                raise InputError(f"{path}: line {line}: a row with the wrong number of fields (truncated file?)")
            out.append((line, row))
    except csv.Error as e:
        raise InputError(f"{path}: line {i + reader.line_num}: not a CSV row ({e})") from None
    if not out:
        raise InputError(f"{path}: no data rows")
    return out


# --- XSTest ----------------------------------------------------------------------------------
def read_xstest_file(path: Path, model: str = "") -> list[CheckRow]:
    rows = []
    for line, r in read_csv_rows(path, {"id", "type", "prompt", "completion", "final_label"}, skip_comments=False):
        lab = r["final_label"].strip()
        if lab not in XSTEST_LABELS:
            raise InputError(f"{path}: line {line}: final_label must be one of {', '.join(XSTEST_LABELS)}, "
                             f"got {lab!r}")
        rows.append(CheckRow("xstest", f"{model}:{r['id']}", r["prompt"], r["completion"], lab,
                             refusal=lab != "1_full_compliance", harmful=None,
                             meta={"model": model, "type": r["type"],
                                   "prompt_label": "unsafe" if r["type"].startswith("contrast") else "safe"}))
    return rows


def load_xstest(folder: Path | None = None, *, check_sha: bool = True) -> list[CheckRow]:
    """The 2,250 labelled XSTest v2 completions (5 models x 450 prompts)."""
    folder = Path(folder) if folder is not None else XSTEST_DIR
    out = []
    for model, sha in XSTEST_FILES.items():
        path = folder / f"xstest_v2_completions_{model}.csv"
        if check_sha and path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            raise InputError(f"{path}: sha256 does not match the pinned value (a changed or truncated file)")
        out += read_xstest_file(path, model)
    return out


# --- PyRIT -----------------------------------------------------------------------------------
def _fetch(pf: PackagedFile) -> Path:
    try:
        return fetch(pf)
    except InputError:
        raise
    except SaessError as e:
        raise InputError(str(e)) from None


def read_pyrit_refusal(path: Path, name: str) -> list[CheckRow]:
    out = []
    for line, r in read_csv_rows(path, {"objective", "assistant_response", "human_score"}):
        s = (r["human_score"] or "").strip()
        if s not in ("0", "1"):
            raise InputError(f"{path}: line {line}: human_score must be 0 or 1, got {s!r}")
        out.append(CheckRow("pyrit-refusal", f"{name}:{line}", r["objective"], r["assistant_response"], s,
                            refusal=s == "1", meta={"file": name}))
    return out


def load_pyrit_refusal() -> list[CheckRow]:
    """PyRIT's 169 refusal-labelled responses (main 105 + extra 64)."""

    return [r for k, pf in REFUSAL_CHECK_SETS.items() for r in read_pyrit_refusal(_fetch(pf), k)]


HARM_SCORES = ("0", "0.25", "0.5", "0.75", "1")


def read_pyrit_harm(path: Path) -> list[CheckRow]:
    rows = read_csv_rows(path, {"objective", "assistant_response"})
    fields = set(rows[0][1])
    col = "human_score_1" if "human_score_1" in fields else "human_score" if "human_score" in fields else None
    if col is None:
        raise InputError(f"{path}: no human_score_1 or human_score column")
    out = []
    for line, r in rows:
        s = (r[col] or "").strip()
        if s not in HARM_SCORES:
            raise InputError(f"{path}: line {line}: {col} must be one of {', '.join(HARM_SCORES)}, got {s!r}")
        out.append(CheckRow("pyrit-harm", f"{path.stem}:{line}", r["objective"], r["assistant_response"], s,
                            harmful=float(s) >= 0.5,
                            meta={"harm_category": r.get("harm_category") or path.stem, "score": float(s)}))
    return out


def read_pyrit_objective(path: Path) -> list[CheckRow]:
    out = []
    for line, r in read_csv_rows(path, {"objective", "assistant_response", "human_score"}):
        s = (r["human_score"] or "").strip()
        if s not in ("0", "1"):
            raise InputError(f"{path}: line {line}: human_score must be 0 or 1, got {s!r}")
        out.append(CheckRow("pyrit-objective", f"{path.stem}:{line}", r["objective"], r["assistant_response"], s,
                            harmful=s == "1", meta={"harm_category": r.get("harm_category") or path.stem}))
    return out


def load_pyrit_harm() -> list[CheckRow]:
    """PyRIT's 604 harm-scored responses (8 files); harmful = human score >= 0.5."""
    return [r for pf in PYRIT_HARM_FILES for r in read_pyrit_harm(_fetch(pf))]


def load_pyrit_objective() -> list[CheckRow]:
    """PyRIT's 395 objective-achieved responses (14 files)."""
    return [r for pf in PYRIT_OBJECTIVE_FILES for r in read_pyrit_objective(_fetch(pf))]
