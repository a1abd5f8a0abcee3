"""Session 13: give a model folder the reliance it generates with when a run does not set one.

    python docs/results/v13/set_reliance.py saess/artifacts/default --reliance high --high-waits-for-tau on

Writes `reliance` and `high_waits_for_tau` into FOLDER/saess_config.json (after `lm_reads_cls`), prints the
values before and after; no weight is touched. `default` got `high` + on after the validation probe read by
readers (docs/results/v13/high_wait_rule.md, read-val-{medium,high}/).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from saess.flags import on_off
from saess.generation.config import RELIANCES


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--reliance", required=True, choices=RELIANCES)
    ap.add_argument("--high-waits-for-tau", type=on_off, required=True)
    a = ap.parse_args(argv)
    path = Path(a.folder) / "saess_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    before = {k: cfg.get(k) for k in ("reliance", "high_waits_for_tau")}
    out = {}
    for k, v in cfg.items():
        if k not in ("reliance", "high_waits_for_tau"):
            out[k] = v
        if k == "lm_reads_cls":
            out.update(reliance=a.reliance, high_waits_for_tau=a.high_waits_for_tau)
    out.setdefault("reliance", a.reliance)
    out.setdefault("high_waits_for_tau", a.high_waits_for_tau)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"{path}: {before} -> {{'reliance': {a.reliance!r}, 'high_waits_for_tau': {a.high_waits_for_tau}}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
