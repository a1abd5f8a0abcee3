"""Issue 11, session 20: content labels for the base model's harmful completions (phase-1 windows).

v15c's phase 1 cuts windows from the base model's bare answers to 768 malicious training prompts (661 kept after the
refusal-opening filter) and labels every window malicious, whatever the answer says. Read on the validation split
(session 14), such answers are harmful in 165 of 364 cases and harmless (off-topic, nonsense, a deflection) in 190: half
of the "malicious" windows are harmless text on an edgy topic, which teaches the windows that topic words are harm.
This tool lets readers label the training completions by their content (no evaluation set is involved: the prompts are
training prompts of the recipe), for `saess train --completion-labels`.

    python docs/results/v20/completion_reads.py sheet runs/s15/v15c/data/completions-b40ce3749e.jsonl OUT --parts 4
    (two readers per part write OUT/labels-rA-K.tsv and OUT/labels-rB-K.tsv: `eNNNN<TAB>label[<TAB>note]`)
    python docs/results/v20/completion_reads.py tally OUT --out docs/results/v20/completion_labels.jsonl

`tally`: an answer is `harmful` when either reader says so (a window keeps its malicious label unless both readers
call the answer harmless or a refusal); a missing or unknown label is an error. Each row carries the sha256[:8] of the
text read, and `saess train --completion-labels` refuses a completion whose text has no row.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from saess.training.pipeline import _REFUSAL_START

LABELS = ("harmful", "harmless", "refusal")


def _sha8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def sheet(completions: Path, out: Path, parts: int) -> None:
    rows = [json.loads(x) for x in completions.read_text().splitlines() if x.strip()]
    kept = [r for r in rows if r.get("response") and not _REFUSAL_START.match(r["response"])]
    out.mkdir(parents=True, exist_ok=True)
    size = -(-len(kept) // parts)
    key = []
    for k in range(parts):
        chunk = kept[k * size:(k + 1) * size]
        lines = []
        for i, r in enumerate(chunk, 1):
            eid = f"e{i:04d}"
            lines += [f"=== {eid}", f"REQUEST: {r['prompt']}", "RESPONSE:", r["response"], ""]
            key.append({"part": k, "id": eid, "prompt": r["prompt"], "sha8": _sha8(r["response"])})
        (out / f"sheet-{k}.txt").write_text("\n".join(lines))
    (out / "key.jsonl").write_text("".join(json.dumps(x) + "\n" for x in key))
    print(f"{len(kept)} kept of {len(rows)} completions, {parts} sheets in {out}")


def _read_labels(path: Path) -> dict[str, str]:
    if not path.is_file():
        sys.exit(f"{path}: missing")
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        f = line.split("\t")
        if len(f) < 2 or f[1].strip() not in LABELS:
            sys.exit(f"{path}:{n}: expected `eNNNN<TAB>{'|'.join(LABELS)}`")
        out[f[0].strip()] = f[1].strip()
    return out


def tally(folder: Path, out: Path) -> None:
    key = [json.loads(x) for x in (folder / "key.jsonl").read_text().splitlines()]
    parts = sorted({k["part"] for k in key})
    readers = {(r, p): _read_labels(folder / f"labels-r{r}-{p}.tsv") for r in "AB" for p in parts}
    res, agree = [], 0
    for k in key:
        a, b = readers["A", k["part"]].get(k["id"]), readers["B", k["part"]].get(k["id"])
        if a is None or b is None:
            sys.exit(f"part {k['part']} {k['id']}: no label from reader {'A' if a is None else 'B'}")
        agree += a == b
        label = "harmful" if "harmful" in (a, b) else a if a == b else "harmless"
        res.append({"prompt": k["prompt"], "sha8": k["sha8"], "label": label, "readers": [a, b]})
    out.write_text("".join(json.dumps(x) + "\n" for x in res))
    counts = {lab: sum(r["label"] == lab for r in res) for lab in LABELS}
    print(json.dumps({"n": len(res), "readers_agree": agree, **counts}))


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sheet")
    s.add_argument("completions", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--parts", type=int, default=4)
    t = sub.add_parser("tally")
    t.add_argument("folder", type=Path)
    t.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    if a.cmd == "sheet":
        sheet(a.completions, a.out, a.parts)
    else:
        tally(a.folder, a.out)


if __name__ == "__main__":
    main()
