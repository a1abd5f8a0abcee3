"""Issue 12, session 14: record in the gold check split which saved model wrote each row.

    python docs/results/v14/gold_fingerprints.py          # rewrites saess/judges/data/gold/check.jsonl in place

The correction (`saess.evaluation.corrected`) takes a model's own stratum of the gold check split by
"model@fingerprint" (the fingerprint `saess eval` records per model in `config.json`: the sha256 of the
saved model's `saess_config.json`, 16 hex digits), so that two versions of `default` are two strata.
The check split's rows from the run folder `gold-check` were written before fingerprints were stored
in gold rows; this script adds them from the committed model files of the commit that completed the
split (7601470, 2026-11-26 03:05 UTC; the run was made from that tree, and every artifact's
`saess_config.json` there is the same as at 0fc167e, which added the split, and as at bc683d9, v2):

- `default` (v2): b659264ebfea31f3, the fingerprint every docs/results/full/*-default/config.json records;
- `sft`: a55d9cd92add6e1d, `aug`: abec392f75444a8e (unchanged since);
- `base`: none (no saved folder; its stratum stays the name).

It checks each fingerprint against `git show 7601470:saess/artifacts/NAME/saess_config.json` and
refuses to write when one differs. Rows that already carry a fingerprint are left as they are.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from saess.judges.gold import WARNING, _read_gold_file, gold_path

COMMIT = "7601470"
FINGERPRINTS = {"default": "b659264ebfea31f3", "sft": "a55d9cd92add6e1d", "aug": "abec392f75444a8e"}


def main() -> int:
    for name, fp in FINGERPRINTS.items():
        blob = subprocess.run(["git", "show", f"{COMMIT}:saess/artifacts/{name}/saess_config.json"],
                              check=True, capture_output=True).stdout
        if hashlib.sha256(blob).hexdigest()[:16] != fp:
            print(f"error: {name} at {COMMIT} does not have fingerprint {fp}", file=sys.stderr)
            return 2
    path = gold_path("check")
    rows = _read_gold_file(path)
    changed = 0
    for r in rows:
        if r["run"]["folder"] == "gold-check" and r.get("model_fingerprint") is None:
            fp = FINGERPRINTS.get(r["model"])
            r["model_fingerprint"] = fp
            changed += fp is not None
    tmp = Path(str(path) + ".part")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(WARNING + "\n")
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)
    print(f"{path}: {changed} rows given a fingerprint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
