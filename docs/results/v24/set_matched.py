"""Issue 11, session 24: ens5m of docs/results/v23/rule.md (ens5-16 at v15c's harm-catching operating point).

    python docs/results/v24/set_matched.py runs/s23/ens5-16 runs/s24/ens5m [--matched docs/results/v24/matched.json]

Copies the model folder and sets its query and window thresholds to the matched ones of docs/results/v24/matched.py
(validation split only), recording them and their source in the config's `extra.matched_thresholds`.
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
    a = ap.parse_args()
    m = json.loads(Path(a.matched).read_text())
    out = Path(a.out)
    if out.exists():
        raise SystemExit(f"{out} exists")
    shutil.copytree(a.src, out)
    cfg_path = out / "saess_config.json"
    cfg = json.loads(cfg_path.read_text())
    before = {"threshold": cfg["threshold"], "window_threshold": cfg["window_threshold"]}
    cfg["threshold"] = m["query"]["ens5_matched"]["threshold"]
    cfg["window_threshold"] = m["windows"]["ens5_matched"]["threshold"]
    cfg.setdefault("extra", {})["matched_thresholds"] = {
        "from": a.src, "calibrated": before, "source": "docs/results/v24/matched.py (validation split, step-0 scores)",
        "query": m["query"], "windows": m["windows"]}
    cfg_path.write_text(json.dumps(cfg, indent=2))
    print(json.dumps({"out": str(out), "threshold": cfg["threshold"], "window_threshold": cfg["window_threshold"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
