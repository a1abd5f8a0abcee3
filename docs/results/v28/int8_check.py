"""Issue 11, session 28: the check of docs/results/v28/rule.md (the int8 form of `default` against its float16 form).

    python docs/results/v28/int8_check.py [--dir runs/s28/ens] [--ref fp16] [--new int8] [--model MODEL] [--out F.json]
    python docs/results/v28/int8_check.py --ref fp32 --members-dir runs/s23/ens ...   # the amendment's reference

Reads the two `docs/results/v23/ensemble.py score` files (validation split and edgy probe only) and reports the
largest change of a query P(malicious) and of a window P(malicious), and every query or per-answer window score
that crosses a boundary the engine compares it with (the model's query threshold, its window bands' query
boundaries and `confirm_below` for queries; its window threshold and the bands' window thresholds for answers).
`--ref fp32 --members-dir DIR`: the reference is the mean of the five members' fp32 scores of session 23
(DIR/v15c.json, v15c-s1 ... v15c-s4; the scores both thresholds were set on), per query and per window.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MEMBERS = ["v15c", "v15c-s1", "v15c-s2", "v15c-s3", "v15c-s4"]


def members_mean(folder: Path) -> dict:
    """The fp32 ensemble's scores as the mean of its members' (same layout as an `ensemble.py score` file)."""
    ms = [json.loads((folder / f"{n}.json").read_text()) for n in MEMBERS]
    out = {"query": {p: sum(m["query"][p] for m in ms) / len(ms) for p in ms[0]["query"]}, "windows": {}}
    for k in ms[0]["windows"]:
        rows = []
        for answer_rows in zip(*(m["windows"][k] for m in ms), strict=True):
            tuples = zip(*(r[1] for r in answer_rows), strict=True)
            rows.append([answer_rows[0][0], [[sum(ws) / len(ws) for ws in zip(*per, strict=True)] for per in tuples]])
        out["windows"][k] = rows
    return out


def answer_score(tuples: list[list[float]]) -> float:
    """Max over re-evaluations of the min over their tau windows (as `answer_window_scores`)."""
    return max((min(t) for t in tuples if t), default=0.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=str(ROOT / "runs/s28/ens"))
    ap.add_argument("--ref", default="fp16")
    ap.add_argument("--new", default="int8")
    ap.add_argument("--model", default=str(ROOT / "saess/artifacts/default"))
    ap.add_argument("--members-dir", help="with --ref fp32: the folder of the members' fp32 score files")
    ap.add_argument("--out")
    a = ap.parse_args()
    load = lambda n: json.loads((Path(a.dir) / f"{n}.json").read_text())  # noqa: E731
    ref = members_mean(Path(a.members_dir)) if a.ref == "fp32" and a.members_dir else load(a.ref)
    new = load(a.new)
    cfg = json.loads((Path(a.model) / "saess_config.json").read_text())
    bands = cfg.get("window_bands") or []
    q_bounds = sorted({cfg["threshold"], cfg["confirm_below"], *(b[0] for b in bands)})
    w_bounds = sorted({cfg["window_threshold"], *(b[1] for b in bands)})
    assert ref["query"].keys() == new["query"].keys()
    dq = {p: abs(new["query"][p] - ref["query"][p]) for p in ref["query"]}
    q_cross = [[p, ref["query"][p], new["query"][p], t] for p in ref["query"] for t in q_bounds
               if (ref["query"][p] >= t) != (new["query"][p] >= t)]
    dw, w_cross, n_windows, n_answers = 0.0, [], 0, 0
    for k in ref["windows"]:
        for (p, rt), (p2, nt) in zip(ref["windows"][k], new["windows"][k], strict=True):
            assert p == p2 and len(rt) == len(nt)
            n_answers += 1
            for r, n in zip(rt, nt, strict=True):
                n_windows += len(r)
                dw = max([dw, *(abs(x - y) for x, y in zip(r, n, strict=True))])
            rs, ns = answer_score(rt), answer_score(nt)
            w_cross += [[k, p, rs, ns, t] for t in w_bounds if (rs >= t) != (ns >= t)]
    res = {"ref": a.ref, "new": a.new, "query_boundaries": q_bounds, "window_boundaries": w_bounds,
           "queries": len(dq), "max_abs_query_change": max(dq.values()),
           "mean_abs_query_change": sum(dq.values()) / len(dq), "query_crossings": q_cross,
           "answers": n_answers, "windows": n_windows, "max_abs_window_change": dw, "window_crossings": w_cross}
    res["passes"] = res["max_abs_query_change"] <= 0.005 and not q_cross and dw <= 0.005 and not w_cross
    # the rule's amendment (with --ref fp32): crossings allowed only by the items whose reference score *is* the
    # boundary (the threshold-defining items of docs/results/v24/matched.py)
    res["passes_amended"] = (res["max_abs_query_change"] <= 0.005 and dw <= 0.005
                             and all(c[1] == c[3] for c in q_cross) and all(c[2] == c[4] for c in w_cross))
    print(json.dumps(res, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
