"""Issue 11, session 30: a candidate of docs/results/v30/rule.md from its built ensemble folder (in place).

    python docs/results/v30/set_query_threshold.py MODEL_DIR docs/results/v30/query_side_NAME.json

The query threshold = the candidate's own (query_side.py, validation split); the window threshold, window bands and
decoding settings = v26e's (runs/s26/v26e/saess_config.json): its five members judge the answer windows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEEP = ("window_threshold", "window_bands", "confirm", "confirm_below", "recheck", "reliance", "high_waits_for_tau")


def main() -> int:
    out, side = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
    v26e = json.loads(Path("runs/s26/v26e/saess_config.json").read_text())
    path = out / "saess_config.json"
    cfg = json.loads(path.read_text())
    before = {k: cfg.get(k) for k in ("threshold", *KEEP)}
    cfg["threshold"] = side["candidate"]["threshold"]
    for k in KEEP:
        cfg[k] = v26e[k]
    cfg.setdefault("extra", {})["matched_thresholds"] = {
        "source": f"{sys.argv[2]} (docs/results/v30/query_side.py: validation split, step-0 scores)", "before": before,
        "query": side["candidate"], "windows": "v26e's (runs/s26/v26e/saess_config.json)",
        "rule": "docs/results/v30/rule.md"}
    path.write_text(json.dumps(cfg, indent=2))
    print(json.dumps({k: cfg[k] for k in ("threshold", "window_threshold", "window_bands", "members", "window_members")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
