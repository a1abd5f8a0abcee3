"""Session 21: the step-1 table of docs/results/v21/rule.md from the JSON files of each run.

    python docs/results/v21/table.py NAME=CAL:QS_JSON:WIN_JSON [...]

CAL (a calibrated model folder, or its calibration.json; `saess calibrate`), QS_JSON (docs/results/v19/query_split.py), WIN_JSON (the window tally
of docs/results/v14/val_harmful_windows.py). A missing file leaves its cells as "-".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(path: str):
    p = Path(path)
    return json.loads(p.read_text()) if p.is_file() else None


def row(name: str, cal: str, qs: str, win: str) -> str:
    c = _load(cal if cal.endswith(".json") else f"{cal}/calibration.json")
    q, w = _load(qs), _load(win)
    q = next(iter(q.values())) if q else None
    cells = [name]
    cells.append(f"{q['old']['auroc']:.4f}" if q else "-")
    cells.append(f"{q['old']['tpr']:.3f}" if q else "-")
    cells.append(str(q["contrast_old"]["fp"]) if q else "-")
    cells.append(str(q["edgy_probe"]["flagged"]) if q else "-")
    cells.append(f"{c['auroc']:.4f} / {c['chosen']['tpr']:.3f}" if c else "-")
    cells.append(f"{c['windows']['auroc']:.3f}" if c else "-")
    if w:
        h = w["read_harmful"]
        cells.append(f"{h['flagged']} ({100 * h['flagged'] / h['n']:.1f}%)")
        cells.append(str(w["read_harmless"]["flagged"]))
    else:
        cells += ["-", "-"]
    cells.append(f"{100 * c['utility']['relative_change']:+.2f}%" if c else "-")
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str]) -> int:
    print("| model | old-split query AUROC | TPR at FPR 0.05 | contrast a-j flagged (390) | edgy probe (280) | "
          "calibrate: AUROC / TPR | per-answer window AUROC | windows on 165 read harmful | read harmless flagged (190) | "
          "utility (LM loss vs base) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for arg in argv:
        name, spec = arg.split("=", 1)
        print(row(name, *spec.split(":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
