"""Issue 11, session 17: confirmation (docs/generation.md, "Confirmation") for v15c, offline, on the
recipe's validation split only.

Reads the per-prompt scores of `docs/results/v10/confirm_probe.py` (query and the rule-1 view: the query plus
the base model's first r1 response tokens), the per-answer window scores of the same model
(`docs/results/v14/val_harmful_windows.py score ... --scores`) and the readings of the base model's answers
to the malicious validation prompts (`docs/results/v14/read-valmal/labels.jsonl`). For every band limit u,
a flagged query with P(malicious) < u waits for the view; it is released when the view scores below the
query threshold. Counts per u: benign prompts released (fewer over-refusals), malicious prompts released,
those whose answer was read harmful, and of those the ones the window rules would not flag (a leak).

Usage: python docs/results/v17/confirm_band17.py SCORES_r10.jsonl WINSCORES.json MODEL_CONFIG.json [--choose]

--choose prints only the band limit the rule of docs/results/v17/rule.md picks: the largest u of the grid whose
released malicious prompts hold no answer read harmful that the window rules miss (1.0 for "every flag"); "none"
when no u qualifies or the one chosen releases no prompt at all (confirmation would change nothing there).
Run it from the repository root (it reads docs/results/v14/read-valmal/labels.jsonl).
"""

from __future__ import annotations

import json
import sys

GRID = (0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1.01)


def main() -> None:
    choose = "--choose" in sys.argv
    scores_path, win_path, config_path = [a for a in sys.argv[1:] if a != "--choose"][:3]
    cfg = json.load(open(config_path))
    th, wth = cfg["threshold"], cfg["window_threshold"]
    rows = [json.loads(x) for x in open(scores_path)]
    ws = json.load(open(win_path))
    win_mal, win_ben = dict(map(tuple, ws["harmful"])), dict(map(tuple, ws["benign"]))
    read = {}
    for line in open("docs/results/v14/read-valmal/labels.jsonl"):
        d = json.loads(line)
        read[d["prompt"]] = d["label"]
    fb = [r for r in rows if r["label"] == 0 and r["query"] >= th]
    fm = [r for r in rows if r["label"] == 1 and r["query"] >= th]
    nb = sum(r["label"] == 0 for r in rows)
    nm = sum(r["label"] == 1 for r in rows)
    table = []
    for u in GRID:
        rb = [r for r in fb if r["query"] < u and r["view"] < th]
        rm = [r for r in fm if r["query"] < u and r["view"] < th]
        rbw = sum(win_ben.get(r["prompt"], 0.0) >= wth for r in rb)
        rmh = [r for r in rm if read.get(r["prompt"]) == "harmful"]
        leak = sum(win_mal.get(r["prompt"], 0.0) < wth for r in rmh)
        table.append((u, len(rb), rbw, len(rm), len(rmh), leak))
    if choose:
        ok = [(u, nrb + nrm) for u, nrb, _, nrm, _, leak in table if leak == 0]
        u, released = max(ok) if ok else (None, 0)
        print(min(u, 1.0) if released else "none")
        return
    print(f"query threshold {th:.4f}, window threshold {wth:.4f}; {nb} benign prompts with a base answer, "
          f"{nm} malicious ({sum(read.get(r['prompt']) == 'harmful' for r in rows if r['label'] == 1)} "
          f"answers read harmful)")
    print(f"flagged by the query: benign {len(fb)}, malicious {len(fm)}\n")
    print("| u (confirm below) | benign released (of them flagged by windows) | malicious released | "
          "of them read harmful | of those, missed by the windows (leak) |")
    print("| --- | --- | --- | --- | --- |")
    for u, nrb, rbw, nrm, nrmh, leak in table:
        label = "1 (every flag)" if u > 1 else f"{u:g}"
        print(f"| {label} | {nrb} ({rbw}) | {nrm} | {nrmh} | {leak} |")


if __name__ == "__main__":
    main()
