"""Session 17: give a model folder the confirmation setting it generates with when a run does not set one.

    python docs/results/v17/set_confirm.py saess/artifacts/default --confirm on --confirm-below 0.95
    python docs/results/v17/set_confirm.py FOLDER --recheck 0.7     (session 18: StrategicConfig.recheck only)

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
    ap.add_argument("--confirm", type=on_off, default=None)
    ap.add_argument("--confirm-below", type=float, default=None)
    ap.add_argument("--recheck", type=float, default=None, help="docs/generation.md, 'Recheck' (0: off)")
    a = ap.parse_args(argv)
    if a.confirm is None and a.recheck is None:
        raise SystemExit("nothing to set: give --confirm and/or --recheck")
    if a.recheck is not None and not 0.0 <= a.recheck <= 1.0:
        raise SystemExit(f"--recheck {a.recheck}: must lie in [0, 1]")
    if a.confirm_below is not None and not 0.0 < a.confirm_below <= 1.0:
        raise SystemExit(f"--confirm-below {a.confirm_below}: must lie in (0, 1]")
    path = Path(a.folder) / "saess_config.json"
    if not path.is_file():
        raise SystemExit(f"{path}: missing")
    cfg = json.loads(path.read_text(encoding="utf-8"))
    new = {}
    if a.confirm is not None:
        new.update(confirm=a.confirm, confirm_below=a.confirm_below)
    if a.recheck is not None:
        new["recheck"] = a.recheck or None
    before = {k: cfg.get(k) for k in new}
    cfg.update(new)
    path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    print(f"{path}: {before} -> {new}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
