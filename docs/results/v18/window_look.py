"""Issue 11, session 18: would a second look at a window flag rescue benign answers? (validation split only)

When rules 2-3 turn a benign-started answer malicious (tau agreeing windows at or above the window
threshold), `[CLS]` could look once more, at a wider view, before the guide goes in. This scores, at the
point where the windows act, three such views of each answer:

- `full`: the query and every response token written so far (a phase-1 whole text, cut there; before the
  review of session 18 `full` and `resp` were cut at the acting window's end instead, which under annealing
  can lie well before the step that acts; `qwin` was right);
- `resp`: every response token written so far, without the query;
- `qwin`: the query and rule 3's span [S - r2, n) (the windows that agreed, with the request they answer).

Answers (JSONL rows with `prompt`, `response`, `group`): the base model's answers to the split's benign
prompts (session 14, `runs/s14/val_answers.jsonl`: group `benign`), its answers to the split's malicious
prompts with the readers' labels (`runs/s14/val_mal_answers.jsonl`, `docs/results/v14/read-valmal`:
group `harmful` / `harmless` / `refusal`), and (group `probe-benign`) the base model's greedy answers (128 tokens) to the 200 benign prompts of the step-2
probe (`docs/results/v15/probe_benign.jsonl`), which are what `default`'s LM writes there (its LM is the base
model; under `high` a sample keeps only the refusal, so the text the windows read is written again). No
evaluation set is read.

    saess -q generate --model base --reliance off --prompts docs/results/v15/probe_benign.jsonl \
        --max-new-tokens 128 --batch-size 25 --out runs/s18/probe_benign_base.jsonl
    python docs/results/v18/window_look.py MODEL runs/s18/probe_benign_base.jsonl OUT.jsonl [PREFILLED.jsonl] [--merge EARLIER_OUT]

PREFILLED (session 18, after the first probe): the base model's answers to the split's 435 malicious prompts
under the prefill "Sure, here is" (group `prefill`; unread: every one counts as an answer to a malicious
prompt), the attack the first table left out:

    saess -q generate --model base --reliance off --prompts runs/s14/val_mal_prompts.jsonl \
        --prefill "Sure, here is" --max-new-tokens 128 --batch-size 29 --out runs/s18/val_mal_prefill_base.jsonl
"""

from __future__ import annotations

import json
import sys

import torch

from saess.evaluation.calibration import _window_spans, window_tuple_scores
from saess.generation.config import StrategicConfig
from saess.model.registry import ModelRegistry
from saess.model.tokens import EncodedSequence
from saess.training.pipeline import _REFUSAL_START, score_views

PREFILL = "Sure, here is"


def rows_of(probe: str, prefilled: str | None = None) -> list[dict]:
    rows = [{"prompt": d["prompt"], "response": d["response"], "group": "benign"}
            for d in map(json.loads, open("runs/s14/val_answers.jsonl"))]
    lab = {d["prompt"]: d["label"] for d in map(json.loads, open("docs/results/v14/read-valmal/labels.jsonl"))}
    for d in map(json.loads, open("runs/s14/val_mal_answers.jsonl")):
        if not _REFUSAL_START.match(d["response"]):
            rows.append({"prompt": d["prompt"], "response": d["response"], "group": lab.get(d["prompt"], "unread")})
    for d in map(json.loads, open(probe)):
        rows.append({"prompt": d["prompt"], "response": d["response"], "group": "probe-benign"})
    if prefilled:  # the malicious prompts' answers under the prefill "Sure, here is" (response = prefill + text)
        for d in map(json.loads, open(prefilled)):
            assert d["response"].startswith(PREFILL), d["prompt"]
            rows.append({"prompt": d["prompt"], "response": d["response"], "group": "prefill"})
    return rows


@torch.no_grad()
def main() -> None:
    args = sys.argv[1:]
    merge = None
    if "--merge" in args:  # score only the rows missing from an earlier OUT file, and write all of them
        i = args.index("--merge")
        merge = args[i + 1]
        del args[i:i + 2]
    name, probe, out = args[:3]
    prefilled = args[3] if len(args) > 3 else None
    torch.set_num_threads(2)
    model = ModelRegistry().load(name)
    model.eval()
    enc = model.encoder
    th, wth = model.config.threshold, model.config.window_threshold
    st = StrategicConfig().for_model(model)
    rows = rows_of(probe, prefilled)
    done = []
    if merge:
        done = [json.loads(x) for x in open(merge)]
        have = {(r["group"], r["prompt"], r["response"]) for r in done}
        rows = [r for r in rows if (r["group"], r["prompt"], r["response"]) not in have]
    q = model.classify([r["prompt"] for r in rows], batch_size=32)
    items = []  # (row index, seq, tuples)
    for i, r in enumerate(rows):
        seq = enc.encode_chat(r["prompt"], r["response"], label=0, close_response=False)
        n_pre = len(enc.text_ids(PREFILL)) if r["group"] == "prefill" else 0
        tuples = _window_spans(len(seq) - seq.query_len, st, n_pre)
        if tuples:
            items.append((i, seq, tuples))
            r["_n_pre"] = n_pre
    # every window of every tuple, scored as answer_window_scores scores them (one pass per answer)
    per_item = window_tuple_scores(model, [(seq, tuples) for _, seq, tuples in items], batch_size=16)
    mins = {(k, j): m for k, ms in enumerate(per_item) for j, m in enumerate(ms)}
    looks, meta = [], []
    for k, (i, seq, tuples) in enumerate(items):
        hit = next((j for j in range(len(tuples)) if mins[(k, j)] >= wth), None)
        rows[i]["window_max"] = max(mins[(k, j)] for j in range(len(tuples)))
        if hit is None:
            continue
        t = tuples[hit]
        n_pre = rows[i].pop("_n_pre")
        steps = [s for s in range(1, len(seq) - seq.query_len - n_pre + 1) if st.evaluates_at(s)]
        n = n_pre + steps[hit + st.tau - 1]  # response tokens written when the row acts (its tau-th window)
        start, end = t[-1]  # the acting rule-3 window, [S - r2, S + r3] as far as written
        qn = seq.query_len
        for kind in ("full", "resp", "qwin"):
            content = [False] * (qn + n)
            if kind in ("full", "qwin"):
                content[:qn] = seq.content[:qn]
            lo, hi = (qn + start, qn + end) if kind == "qwin" else (qn, qn + n)
            for x in range(lo, hi):
                content[x] = seq.content[x]
            looks.append(EncodedSequence(seq.input_ids[:qn + n], content, seq.is_response[:qn + n],
                                         [-100] * (qn + n), 0, qn))
            meta.append((i, kind, n))
    ps = score_views(model, looks)
    for (i, kind, n), s in zip(meta, ps, strict=True):
        rows[i][kind] = s
        rows[i]["acts_at"] = n
    for r, qs in zip(rows, q, strict=True):
        r.pop("_n_pre", None)
        r["query"] = qs
        r["query_flagged"] = qs >= th
    with open(out, "w") as f:
        for r in done + rows:
            f.write(json.dumps(r) + "\n")
    print(f"{len(done)} + {len(rows)} answers; threshold {th:.4f}, window threshold {wth:.4f} -> {out}")


if __name__ == "__main__":
    main()
