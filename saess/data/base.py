"""What every data module shares: the labels, `Example`, prompt normalisation, project files.

Nothing here reads a packaged file or knows a source; `parsers`, `handwritten` and the
registry (`sources`) build on it, so the data layer's imports go one way:
base <- parsers, handwritten <- sources <- recipes, evaluation.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from saess.errors import InputError

BENIGN = 0
MALICIOUS = 1
ROLES = ("train", "eval", "benign_eval")
PROJECT = "(this project)"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the `saess` folder


@dataclass
class Example:
    """One prompt with its label; `response` is a packaged answer when the source has one.

    For malicious prompts `response` is the source's *complying* (harmful) answer when it
    ships one (used only as phase-1 labelled text, never as an SFT target).
    `category` is the source's own category string; `meta` holds source-specific fields
    (``meta["classifier_only"] = True``: the prompt's licence allows classifier text only, so
    it must not become an SFT prompt or answer).
    """

    prompt: str
    label: int
    source: str
    response: str | None = None
    category: str | None = None
    meta: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Normalisation (shared with the recipe's leakage filter)

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_SPACE = re.compile(r"\s+")


def normalize_prompt(text: str) -> str:
    """Canonical form for comparing prompts: NFKC, lowercase, punctuation -> space, one space.

    >>> normalize_prompt("  Write a SCRIPT that can   exploit... vulnerabilities!")
    'write a script that can exploit vulnerabilities'
    """
    t = unicodedata.normalize("NFKC", text).lower()
    t = _PUNCT.sub(" ", t)
    return _SPACE.sub(" ", t).strip()


# --------------------------------------------------------------------------------------
# Files shipped inside the project (as opposed to `saess.assets.PackagedFile`, read out of a wheel)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ProjectFile:
    """A data file shipped inside the `saess` package (or, for tests, any absolute path).

    `path` is relative to the `saess` folder (``data/xstest/xstest_prompts.csv``) or absolute.
    `sha256` pins a file copied from elsewhere (checked on every read); None for a file the
    project writes itself, whose sha256 is computed when it is read (`provenance()`).
    """

    path: str
    licence: str
    origin: str  # where the content comes from: a repository and commit, or "(this project)"
    sha256: str | None = None

    @property
    def requirement(self) -> str:  # the counterpart of `PackagedFile.requirement` in messages
        return "shipped with saess"

    def local_path(self) -> Path:
        p = Path(self.path)
        return p if p.is_absolute() else _PACKAGE_ROOT / p

    def checked_path(self) -> Path:
        """The local path, after checking that it exists and matches the pinned sha256."""
        p = self.local_path()
        if not p.is_file():
            raise InputError(f"{p}: file not found (shipped with saess; reinstall the package)")
        if self.sha256 is not None and sha256_file(p) != self.sha256:
            raise InputError(f"{p}: sha256 {sha256_file(p)} does not match the pinned {self.sha256}")
        return p

    def provenance(self) -> dict:
        p = self.checked_path()
        shown = f"saess/{self.path}" if not Path(self.path).is_absolute() else self.path
        return {"shipped_with": "saess", "path": shown, "sha256": self.sha256 or sha256_file(p),
                "licence": self.licence, "origin": self.origin}
