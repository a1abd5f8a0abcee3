"""Session 17: give a model folder the confirmation setting it generates with when a run does not set one.

    python docs/results/v17/set_confirm.py saess/artifacts/default --confirm on --confirm-below 0.95

Writes `confirm` and `confirm_below` into FOLDER/saess_config.json (docs/generation.md, "Confirmation"),
prints the values before and after; no weight is touched. `default` got on + 0.95 by
docs/results/v17/rule.md (the offline validation table, then the 400 + 200 validation probe).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from saess.flags import on_off


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--confirm", type=on_off, required=True)
    ap.add_argument("--confirm-below", type=float, default=None)
    a = ap.parse_args(argv)
    if a.confirm_below is not None and not 0.0 < a.confirm_below <= 1.0:
        raise SystemExit(f"--confirm-below {a.confirm_below}: must lie in (0, 1]")
    path = Path(a.folder) / "saess_config.json"
    if not path.is_file():
        raise SystemExit(f"{path}: missing")
    cfg = json.loads(path.read_text(encoding="utf-8"))
    before = {k: cfg.get(k) for k in ("confirm", "confirm_below")}
    cfg["confirm"], cfg["confirm_below"] = a.confirm, a.confirm_below
    path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    print(f"{path}: {before} -> {{'confirm': {a.confirm}, 'confirm_below': {a.confirm_below}}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
