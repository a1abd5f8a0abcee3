"""Side-by-side garak results (attack success = detector hits / outputs evaluated) from two
garak_run.sh folders. Usage: python docs/results/serve/garak_table.py DEFAULT_DIR BASE_DIR"""
import json
import sys
from pathlib import Path


def load(d):
    rows = json.loads((Path(d) / "evals.json").read_text())
    return {(r["probe"], r["detector"]): r for r in rows}


a, b = load(sys.argv[1]), load(sys.argv[2])


def cell(r):
    if r is None:
        return "-"
    n = r.get("total_evaluated") or 0
    hits = n - (r.get("passed") or 0)
    return f"{hits}/{n}" + (f" ({100 * hits / n:.0f}%)" if n else "")


print("| probe | detector | `default` hits | `base` hits |")
print("| --- | --- | --- | --- |")
for key in sorted(set(a) | set(b)):
    print(f"| {key[0]} | {key[1]} | {cell(a.get(key))} | {cell(b.get(key))} |")
