"""Issue 11, session 30: contrast parts p-s checked against the validation side before training.

    python docs/results/v30/near_copies.py --out SNAP/saess/data/contrast [--report docs/results/v30/contrast/near_copies.json]

A row whose benign prompt is a near copy (content-word Jaccard >= 0.7, `saess.data.overlap.content_words`, the check
of parts k-o) of a prompt of the recipe's validation split (seed 0: `alignment_val`, prompts and base prompts) or of
a validation probe (docs/results/v15/probe_*.jsonl, docs/results/v16/probe_edgy.jsonl) is removed; a row whose
harmful counterpart is one loses the counterpart. The cleaned parts are written to --out (the training snapshot);
docs/results/v30/contrast/ keeps the files as written. No evaluation set is read (the recipe's evaluation-overlap
filter drops near copies of evaluation prompts at load time, as for every source).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PARTS = "pqrs"
PROBES = [ROOT / "docs/results/v15/probe_benign.jsonl", ROOT / "docs/results/v15/probe_malicious.jsonl",
          ROOT / "docs/results/v16/probe_edgy.jsonl"]


def main() -> int:
    from saess.data.overlap import content_words, jaccard
    from saess.data.recipes import RecipeConfig, build_recipe

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--report", default=str(HERE / "contrast" / "near_copies.json"))
    ap.add_argument("--threshold", type=float, default=0.7)
    a = ap.parse_args()
    recipe = build_recipe(RecipeConfig(seed=0))
    refs = {x for e in recipe["alignment_val"] for x in (e.prompt, e.base_prompt) if x}
    for f in PROBES:
        refs |= {json.loads(x)["prompt"] for x in f.read_text().splitlines() if x.strip()}
    index: dict[str, list[tuple[str, frozenset]]] = {}
    for r in refs:
        w = content_words(r)
        for t in w:
            index.setdefault(t, []).append((r, w))

    def nearest(text: str) -> tuple[float, str]:
        w = content_words(text)
        cands = {r: rw for t in w for r, rw in index.get(t, [])}
        return max(((jaccard(w, rw), r) for r, rw in cands.items()), default=(0.0, ""))

    report = {"threshold": a.threshold, "references": len(refs), "removed": [], "counterpart_dropped": [], "rows": {}}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for p in PARTS:
        rows = [json.loads(x) for x in (HERE / "contrast" / f"part_{p}.jsonl").read_text().splitlines() if x.strip()]
        kept = []
        for row in rows:
            s, ref = nearest(row["benign"])
            if s >= a.threshold:
                report["removed"].append({"id": row["id"], "benign": row["benign"], "matched": ref, "score": s})
                continue
            if row.get("harmful"):
                s, ref = nearest(row["harmful"])
                if s >= a.threshold:
                    report["counterpart_dropped"].append({"id": row["id"], "harmful": row["harmful"], "matched": ref,
                                                          "score": s})
                    row = {**row, "harmful": None}
            kept.append(row)
        (out / f"part_{p}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
        report["rows"][p] = {"written": len(rows), "kept": len(kept),
                             "with_harmful": sum(1 for r in kept if r.get("harmful"))}
    Path(a.report).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: report[k] for k in ("references", "rows")}), len(report["removed"]),
          len(report["counterpart_dropped"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
