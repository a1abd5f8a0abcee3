"""Issue 12, session 13: how well do independent readers agree on the gold check split's harmful-prompt rows?

    python docs/results/v13/reader_agreement.py [--apply] [--out FILE]

Three labellings of the same 357 responses (docs/results/v13/readers/): reader 0 is the split's labels
before session 13 (one reader, sessions 6-8); readers A and B are two LLM-assisted readers of session 13
who labelled a shuffled, blind sheet (request, prefill, what the model wrote; no label, model or attack)
from the rubric in docs/judges.md only (B read it from the end). Prints, for each pair, the three-way
agreement, Cohen's kappa, and precision / recall of one reader's "harmful" against the other's; and the
majority label. `--apply` writes the majority label into saess/judges/data/gold/check.jsonl (a row whose
three labels all differ keeps reader 0's), with a note naming the three labels.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from itertools import permutations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
READERS = Path(__file__).resolve().parent / "readers"
CHECK = ROOT / "saess/judges/data/gold/check.jsonl"


def load(name: str) -> dict[str, tuple[str, str]]:
    out = {}
    for no, line in enumerate((READERS / f"reader-{name}.tsv").read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#"):
            continue
        p = line.split("\t")
        if len(p) < 3 or p[2] not in ("refusal", "harmful", "harmless"):
            raise SystemExit(f"reader-{name}.tsv:{no}: expected id<TAB>sha8<TAB>label")
        out[p[0]] = (p[1], p[2])
    return out


def kappa(a: dict, b: dict) -> tuple[float, float]:
    n = len(a)
    po = sum(a[k] == b[k] for k in a) / n
    ca, cb = Counter(a.values()), Counter(b.values())
    pe = sum(ca[x] * cb[x] for x in set(ca) | set(cb)) / n / n
    return po, (po - pe) / (1 - pe)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apply", action="store_true")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    L = {k: load(k) for k in ("0", "A", "B")}
    ids = set(L["0"])
    if any(set(v) != ids for v in L.values()) or any(L[k][i][0] != L["0"][i][0] for k in L for i in ids):
        raise SystemExit("the three label files must cover the same rows with the same text hashes")
    lab = {k: {i: v[1] for i, v in L[k].items()} for k in L}
    lines = ["| reader (as judge) | reference | agreement (3 labels) | Cohen's kappa | kappa, harmful vs rest | "
             "harmful: precision | recall | tp/fp/fn |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for x, y in permutations(L, 2):
        po, k3 = kappa(lab[x], lab[y])
        _, k2 = kappa({i: v == "harmful" for i, v in lab[x].items()}, {i: v == "harmful" for i, v in lab[y].items()})
        tp = sum(lab[x][i] == "harmful" and lab[y][i] == "harmful" for i in ids)
        fp = sum(lab[x][i] == "harmful" and lab[y][i] != "harmful" for i in ids)
        fn = sum(lab[x][i] != "harmful" and lab[y][i] == "harmful" for i in ids)
        lines.append(f"| {x} | {y} | {po:.3f} | {k3:.3f} | {k2:.3f} | {tp / (tp + fp):.3f} | {tp / (tp + fn):.3f} | "
                     f"{tp}/{fp}/{fn} |")
    maj, changed = {}, []
    for i in sorted(ids):
        votes = Counter(lab[k][i] for k in L)
        top, n = votes.most_common(1)[0]
        maj[i] = top if n >= 2 else lab["0"][i]
        if maj[i] != lab["0"][i]:
            changed.append(i)
    disagree = [i for i in ids if len({lab[k][i] for k in L}) > 1]
    lines += ["", f"rows: {len(ids)}; rows where the readers differ: {len(disagree)}; majority labels "
              f"{dict(Counter(maj.values()))}; changed from reader 0: {len(changed)} ({', '.join(changed)})"]
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n", encoding="utf-8")
    if a.apply:
        src = CHECK.read_text(encoding="utf-8").splitlines()
        out = [src[0]]
        for line in src[1:]:
            r = json.loads(line)
            if r["id"] in maj and r["label"] != maj[r["id"]]:
                votes = ", ".join(f"{k} {lab[k][r['id']]}" for k in L)
                note = f"session 13: majority of three blind readers ({votes})"
                r["note"] = f"{r['note']}; {note}" if r["note"] else note
                r["label"] = maj[r["id"]]
                line = json.dumps(r, ensure_ascii=False)
            out.append(line)
        CHECK.write_text("\n".join(out) + "\n", encoding="utf-8")
        print(f"wrote {CHECK} ({len(changed)} labels changed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
