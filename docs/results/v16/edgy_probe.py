"""Issue 11, session 16: a validation probe of benign prompts that sound harmful, written differently from the
training data (for the over-refusal rows; no evaluation set is read).

    python docs/results/v16/edgy_probe.py docs/results/v16/edgy-probe/part1.jsonl docs/results/v16/edgy-probe/part2.jsonl

Why: session 16 found that the recipe's own contrast prompts (validation split) do not predict over-refusal on
prompts that only sound harmful: v15c refused fewer of them than v11wh while refusing more of XSTest's safe
prompts. The project's contrast set was written by one group of writer agents in one style; this probe is
written by two other writer agents from the same kind of category list (the field's over-refusal types),
asked for varied, informal user wording, told not to open or recall any benchmark or project file
(prompts: `docs/results/v16/edgy_probe.md`).

Filters, each counted: (1) the recipe's evaluation-overlap index (`saess.data.recipes.eval_index`: exact,
containment and near copies of every evaluation prompt, XSTest included); (2) near copies (content-word
Jaccard >= 0.5, `saess.data.overlap`) of any prompt of the training recipe (train and validation, benign and
malicious), so that the probe is not the training data reworded; (3) duplicates within the probe.
Writes docs/results/v16/probe_edgy.jsonl ({"prompt", "category"}).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from saess.data.overlap import near_copies
from saess.data.recipes import RecipeConfig, build_recipe, eval_index

OUT = Path(__file__).parent / "probe_edgy.jsonl"


def main(paths: list[str]) -> int:
    rows = []
    for p in paths:
        for no, line in enumerate(Path(p).read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    j = json.loads(line)
                    rows.append((j["prompt"].strip(), j["category"]))
                except (json.JSONDecodeError, KeyError) as e:
                    raise SystemExit(f"{p}:{no}: expected JSON with prompt and category ({e})") from None
    dropped = Counter()
    index = eval_index()
    kept = []
    for prompt, cat in rows:
        if index.match(prompt):
            dropped["evaluation overlap"] += 1
        else:
            kept.append((prompt, cat))
    recipe = build_recipe(RecipeConfig(seed=0))
    train = sorted({e.prompt for part in recipe.values() if isinstance(part, list) for e in part
                    if hasattr(e, "prompt")})
    near = {n.index for n in near_copies([p for p, _ in kept], train, threshold=0.5, sibling_threshold=1.01)}
    dropped["near copy of a training-recipe prompt"] = len(near)
    kept = [r for i, r in enumerate(kept) if i not in near]
    seen, out = set(), []
    for prompt, cat in kept:
        key = prompt.lower()
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        out.append({"prompt": prompt, "category": cat})
    OUT.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    print(f"{len(rows)} written, {len(out)} kept -> {OUT}; dropped: {dict(dropped)}")
    print("per category:", dict(Counter(r["category"] for r in out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
