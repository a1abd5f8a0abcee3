"""Issue 11, session 29: `ens7m` of docs/results/v29/rule.md from the built ensemble.

    python docs/results/v29/set_matched.py runs/s29/ens7 runs/s29/ens7m [--matched docs/results/v29/matched.json]
        [--bands-from runs/s26/v26e] [--window-from ens5]

Copies the model folder, sets its query and window thresholds to the candidate's matched ones of
docs/results/v29/matched.py (validation split only, recorded in `extra.matched_thresholds`) and its window bands to
v26e's (the rule keeps v26e's decoding settings; `saess ensemble` already copied the rest from member 0, v15cfr2).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--matched", default=str(HERE / "matched.json"))
    ap.add_argument("--bands-from", default="runs/s26/v26e")
    ap.add_argument("--window-from", default=None, metavar="ROW",
                    help="take the window threshold from this row of --matched (ens7w: ens5, whose five members "
                         "judge its answer windows)")
    a = ap.parse_args()
    m = json.loads(Path(a.matched).read_text())
    cand = [k for k in m if k not in ("ens5", "step1")]
    if len(cand) != 1:
        raise SystemExit(f"{a.matched}: expected one candidate row besides ens5, found {cand}")
    row = m[cand[0]]
    out = Path(a.out)
    if out.exists():
        raise SystemExit(f"{out} exists")
    bands = json.loads((Path(a.bands_from) / "saess_config.json").read_text())
    shutil.copytree(a.src, out)
    cfg_path = out / "saess_config.json"
    cfg = json.loads(cfg_path.read_text())
    before = {"threshold": cfg["threshold"], "window_threshold": cfg["window_threshold"]}
    cfg["threshold"] = row["query"]["threshold"]
    wrow = m[a.window_from] if a.window_from else row
    cfg["window_threshold"] = wrow["windows"]["threshold"]
    cfg["window_bands"] = bands["window_bands"]
    extra = cfg.setdefault("extra", {})
    extra["matched_thresholds"] = {
        "from": a.src, "members": cand[0], "before": before,
        "source": "docs/results/v29/matched.py (validation split, step-0 scores)",
        "query": row["query"], "windows": wrow["windows"], "windows_row": a.window_from or cand[0]}
    extra["window_bands"] = {"from": str(Path(a.bands_from) / "saess_config.json"), "rule": "docs/results/v29/rule.md"}
    cfg_path.write_text(json.dumps(cfg, indent=2))
    print(json.dumps({"out": str(out), "threshold": cfg["threshold"], "window_threshold": cfg["window_threshold"],
                      "window_bands": cfg["window_bands"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
