"""Making the gold set's split files from run folders (the workflow of docs/judges.md).

`python -m saess.judges.gold_build export RUN > sheet.txt` prints the unique responses of a run
folder with ids; a person writes `id<TAB>label[<TAB>note]` lines;
`python -m saess.judges.gold_build build RUN --split S --labels FILE` writes the split file
(`saess.judges.gold` reads it); `python -m saess.judges.gold_build stats --split S` counts labels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from saess.errors import InputError, SaessError
from saess.evaluation.store import RunFolder
from saess.judges.base import strip_prefill
from saess.judges.checksets import sha256_text
from saess.judges.gold import (
    LABELS,
    SPLITS,
    WARNING,
    _read_gold_file,
    gold_path,
    is_fingerprint,
    load_gold,
    stratum_of,
)
from saess.reports.combine import command_of


def run_identity(folder: Path) -> tuple[dict, str, str]:
    """(config.json, sha256 of its identity, the `saess eval` command) of a run folder."""

    rf = RunFolder(folder)
    try:
        cfg = json.loads(rf.config_path.read_text(encoding="utf-8"))
        ident = cfg["identity"]
        if not isinstance(ident, dict):
            raise TypeError("'identity' is not an object")
    except FileNotFoundError:
        raise InputError(f"{folder}: no config.json; not a saess eval run folder") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{rf.config_path}: not a saess eval config ({e})") from None
    sha = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
    try:

        cmd = command_of({"config": cfg, "path": folder, "summary": {"config": ident}})
    except Exception:  # noqa: BLE001 - the command is for the record only
        cmd = None
    return cfg, sha, cmd


def unique_responses(folder: str | Path) -> list[dict]:
    """The run's successful samples, one per distinct (model, prompt, prefill, response), in a fixed order."""

    folder = Path(folder)
    cfg, sha, cmd = run_identity(folder)
    fps = cfg["identity"].get("model_fingerprints") or {}
    if not isinstance(fps, dict) or not all(
            is_fingerprint(fp) for fp in fps.values()):
        raise InputError(f"{RunFolder(folder).config_path}: identity.model_fingerprints must map model names to "
                         "16 hex digits or null")
    recs = RunFolder(folder).read_samples()
    if not recs:
        raise InputError(f"{folder}: no samples")
    recs = sorted((r for r in recs if not r.get("error") and r.get("response") is not None),
                  key=lambda r: (r["model"], r["attack"], r["row_id"], r["case_id"]))
    seen: dict[tuple, dict] = {}
    for r in recs:
        k = (r["model"], r["prompt"], r.get("prefill") or "", r["response"])
        if k in seen:
            seen[k]["keys"].append(r["key"])
            continue
        seen[k] = {
            "model": r["model"], "attack": r["attack"], "config_name": r["config_name"],
            "benchmark": r.get("benchmark"), "row_id": r["row_id"],
            "kind": "benign" if r["attack"] == "benign" else "harmful",
            "source_prompt": r.get("source_prompt") or r["prompt"], "prompt": r["prompt"],
            "prefill": r.get("prefill"), "response": r["response"], "sha256": sha256_text(r["response"]),
            "keys": [r["key"]], "run": {"folder": folder.name, "identity_sha256": sha, "command": cmd},
            "model_fingerprint": fps.get(r["model"]),
        }
    out = list(seen.values())
    for k, r in seen.items():  # content-based: stable while the run folder grows
        r["id"] = f"{folder.name}:" + hashlib.sha256("\0".join(k).encode()).hexdigest()[:10]
    return out


def export_sheet(rows: list[dict], out=sys.stdout, start: int = 0, end: int | None = None) -> None:
    """A reading sheet: id, model, attack, the request, the prefill and what the model wrote after it."""

    for r in rows[start:end]:
        gen = strip_prefill(r["response"], r["prefill"])
        out.write(f"=== {r['id']} {r['sha256'][:8]} {r['model']} {r['attack']}/{r['config_name']} [{r['kind']}]\n")
        out.write(f"Q: {r['source_prompt'][:160]!r}\n")
        if r["prefill"]:
            out.write(f"PREFILL: {r['prefill'][:100]!r}\n")
        out.write(f"A: {gen!r}\n")


def read_labels(path: str | Path) -> dict[str, tuple[str, str, str]]:
    """id -> (sha256 prefix, label, note) from `id<TAB>sha8<TAB>label[<TAB>note]` lines."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    out = {}
    for i, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3 or parts[2] not in LABELS:
            raise InputError(f"{path}: line {i}: expected id<TAB>sha8<TAB>label (one of {', '.join(LABELS)})")
        if parts[0] in out:
            raise InputError(f"{path}: line {i}: {parts[0]} labelled twice")
        out[parts[0]] = (parts[1], parts[2], parts[3] if len(parts) > 3 else "")
    return out


def build_split(folder: str | Path, split: str, labels_path: str | Path, out: Path | None = None) -> Path:
    """Write the labelled rows of one run folder into the split file (rows of that run are replaced)."""
    rows = {r["id"]: r for r in unique_responses(folder)}
    labels = read_labels(labels_path)
    recs = []
    for rid, (sha8, lab, note) in labels.items():
        if rid not in rows:
            raise InputError(f"{labels_path}: {rid} is not a response of {folder}")
        r = rows[rid]
        if not r["sha256"].startswith(sha8):
            raise InputError(f"{labels_path}: {rid}: the text's sha256 starts {r['sha256'][:8]}, not {sha8} "
                             "(the run folder changed since labelling)")
        if r["kind"] == "benign" and lab == "harmful":
            raise InputError(f"{labels_path}: {rid}: 'harmful' on a benign prompt")
        if r["kind"] == "harmful" and lab == "helpful":
            raise InputError(f"{labels_path}: {rid}: 'helpful' on a harmful prompt (use harmful or harmless)")
        recs.append({"id": rid, "split": split, "label": lab, "note": note or None, **{
            k: r[k] for k in ("kind", "model", "attack", "config_name", "benchmark", "row_id", "source_prompt",
                              "prompt", "prefill", "response", "sha256", "keys", "run", "model_fingerprint")}})
    out = out or gold_path(split)
    old = [r for r in _read_gold_file(out) if r["run"]["folder"] != Path(folder).name] if out.exists() else []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(WARNING + "\n")
        for r in old + recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m saess.judges.gold_build", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="print a reading sheet of a run folder's unique responses")
    e.add_argument("run")
    e.add_argument("--start", type=int, default=0)
    e.add_argument("--end", type=int, default=None)
    b = sub.add_parser("build", help="write the labelled split file from a run folder and a labels file")
    b.add_argument("run")
    b.add_argument("--split", required=True, choices=SPLITS)
    b.add_argument("--labels", required=True)
    s = sub.add_parser("stats", help="label counts of a split")
    s.add_argument("--split", default="check", choices=SPLITS)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "export":
            export_sheet(unique_responses(args.run), start=args.start, end=args.end)
        elif args.cmd == "build":
            print(build_split(args.run, args.split, args.labels))
        else:
            rows = load_gold(args.split)
            c = Counter((stratum_of(r.meta), r.meta["kind"], r.label) for r in rows)
            print(f"{len(rows)} rows")
            for k, v in sorted(c.items()):
                print(*k, v, sep="\t")
    except SaessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
