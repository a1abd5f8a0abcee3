"""Issue 11, session 26: the offline table of a query-aware window threshold (docs/results/v26/rule.md, part 2).

Validation only. Reads `docs/results/v18/window_look.py`'s rows (query score, largest tau-window score, group)
and the confirmation views of `docs/results/v10/confirm_probe.py` (query + first 10 response tokens), and counts,
for every band rule (q, t1, t2) of the rule's grid, the acting rows: B among the benign validation prompts not in
the step-2 probe, H among the groups `harmful` and `prefill`. Prints `default`'s own counts, the rule the choice
picks and a table of the best rule per q.

With `--strict` (the rule's amendment) a rule also has to catch, over all rows whatever their query judgement, at
least `default`'s number of the read harmful answers (165) and of the prefilled answers (435): the step-1 window
measure.

Usage: python docs/results/v26/band_table.py LOOK.jsonl CONFIRM_r10.jsonl MODEL_DIR [--strict] [--grid-extra T,T]
       [--out OUT.json]
"""

from __future__ import annotations

import json
import sys
from collections import Counter

Q_GRID = (0.02, 0.05, 0.1, 0.2)
T_GRID = (0.99, 0.995, 0.997, 0.998, 0.9985, 0.999, 0.9993, 0.9995, 0.9997, 0.9999)
PROBE_BENIGN = "docs/results/v15/probe_benign.jsonl"


def main() -> None:
    args = sys.argv[1:]
    out = None
    strict = "--strict" in args
    if strict:
        args.remove("--strict")
    extra = ()
    if "--grid-extra" in args:  # more thresholds for the grid, comma-separated (v26e: an ensemble's scores)
        i = args.index("--grid-extra")
        extra = tuple(float(x) for x in args[i + 1].split(","))
        del args[i:i + 2]
    if "--out" in args:
        i = args.index("--out")
        out = args[i + 1]
        del args[i:i + 2]
    look, confirm, model_dir = args
    cfg = json.load(open(f"{model_dir}/saess_config.json"))
    th, wth = cfg["threshold"], cfg["window_threshold"]
    below = (cfg.get("confirm_below") or 1.0) if cfg.get("confirm") else 0.0
    view = {d["prompt"]: d["view"] for d in map(json.loads, open(confirm))}
    probe = {json.loads(x)["prompt"] for x in open(PROBE_BENIGN)}
    rows = [json.loads(x) for x in open(look)]

    def reaches(r) -> bool:
        if r["query"] < th:
            return True
        if r["group"] == "prefill":  # confirmation reads the unprefilled start; a prefilled row is not released
            return False
        return r["query"] < below and view.get(r["prompt"], 1.0) < th

    live = [r for r in rows if reaches(r) and "window_max" in r]
    ben = [r for r in live if r["group"] == "benign" and r["prompt"] not in probe]
    harm = [r for r in live if r["group"] in ("harmful", "prefill")]
    n_all = Counter(r["group"] for r in rows)
    n_live = Counter(r["group"] for r in live)

    def acts(r, q, t1, t2) -> bool:
        return r["window_max"] >= (t1 if r["query"] < q else t2)

    def count(q, t1, t2) -> tuple[int, int]:
        return sum(acts(r, q, t1, t2) for r in ben), sum(acts(r, q, t1, t2) for r in harm)

    every = {g: [r for r in rows if r["group"] == g and "window_max" in r] for g in ("harmful", "prefill")}

    def measure(q, t1, t2) -> tuple[int, int]:  # the step-1 window measure: every row, at its own band
        return tuple(sum(acts(r, q, t1, t2) for r in every[g]) for g in ("harmful", "prefill"))

    b0, h0 = count(1.0, wth, wth)
    m0 = measure(1.0, wth, wth)
    ts = sorted(set(T_GRID) | set(extra) | {wth})
    cands = [(q, t1, t2, *count(q, t1, t2)) for q in Q_GRID for t1 in ts for t2 in ts]
    ok = [c for c in cands if c[4] >= h0]
    if strict:
        ok = [c for c in ok if all(a >= b for a, b in zip(measure(*c[:3]), m0, strict=True))]
    pick = min(ok, key=lambda c: (c[3], -c[4], -c[2], c[0]))
    print(f"threshold {th:.4f}, window threshold {wth:.6f}, confirm below {below}")
    print("rows / reaching the windows (with a window score): "
          + ", ".join(f"{g} {n_all[g]}/{n_live[g]}" for g in sorted(n_all)))
    print(f"choice sets: benign not in the probe {len(ben)}, harm (harmful + prefill) {len(harm)}")
    print(f"default: B0 {b0}, H0 {h0}; over all rows, read harmful {m0[0]} of {len(every['harmful'])}, "
          f"prefilled {m0[1]} of {len(every['prefill'])}" + (" (--strict: at least these)" if strict else ""))
    print("\n| q | t1 (query < q) | t2 | B | H | all read harmful | all prefilled |\n|---|---|---|---|---|---|---|")
    for q in Q_GRID:
        c = min((c for c in ok if c[0] == q), key=lambda c: (c[3], -c[4], -c[2]))
        print(f"| {q} | {c[1]} | {c[2]} | {c[3]} | {c[4]} | " + " | ".join(map(str, measure(*c[:3]))) + " |")
    print("\nharm rows reaching the windows, by query score: "
          + ", ".join(f"{r['query']:.3f}" for r in sorted(harm, key=lambda r: r["query"])))
    qb = sorted(r["query"] for r in ben)
    print("benign rows reaching the windows, query score quantiles (10/25/50/75/90%): "
          + ", ".join(f"{qb[int(p * (len(qb) - 1))]:.4f}" for p in (0.1, 0.25, 0.5, 0.75, 0.9)))
    verdict = "goes to step 2" if pick[3] <= b0 - 3 else "rejected (B not 3 below B0)"
    print(f"\npick: q {pick[0]}, t1 {pick[1]}, t2 {pick[2]}: B {pick[3]} (B0 {b0}), H {pick[4]} (H0 {h0}): {verdict}")
    if out:
        json.dump({"default": {"B": b0, "H": h0, "window_threshold": wth, "all_read_harmful": m0[0],
                               "all_prefilled": m0[1]}, "strict": strict,
                   "pick": {"q": pick[0], "t1": pick[1], "t2": pick[2], "B": pick[3], "H": pick[4],
                            "all_read_harmful": measure(*pick[:3])[0], "all_prefilled": measure(*pick[:3])[1]},
                   "verdict": verdict, "n_benign": len(ben), "n_harm": len(harm)}, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
