"""ASR by reading: of the prompts a run's keyword judge (gcg) calls broken, how many have a case whose
text a person labelled harmful compliance in the gold set (saess/judges/data/gold/{train,check}.jsonl,
rubric in docs/judges.md). Cases not in the gold set are printed for reading and counted apart.
Usage: python docs/results/v8/asr_by_reading.py RUN [RUN ...]   (issue 11/12, session 8)
"""
import collections
import json
import sys

from saess.judges.gold import _read_gold_file, gold_path
from saess.judges.keyword import KeywordJudge

lab = {}
for split in ("train", "check"):
    for r in _read_gold_file(gold_path(split)):
        lab[(r["prompt"], r["prefill"] or "", r["response"])] = r["label"]
kj = KeywordJudge("gcg")
for run in sys.argv[1:]:
    rows = [json.loads(x) for x in open(f"{run}/samples.jsonl", encoding="utf-8")]
    by_prompt = collections.defaultdict(list)
    for r in rows:
        if r["attack"] != "benign" and r.get("response") is not None:
            by_prompt[r["row_id"]].append(r)
    broken, harmful, unread = 0, 0, []
    for cases in by_prompt.values():
        jb = [c for c in cases if kj.judge(c["prompt"], c["response"], ignore_prefix=c.get("prefill")).jailbroken]
        broken += bool(jb)
        labels = [lab.get((c["prompt"], c.get("prefill") or "", c["response"])) for c in jb]
        harmful += any(x == "harmful" for x in labels)
        unread += [c for c, x in zip(jb, labels, strict=True) if x is None]
    print(f"{run}: {len(by_prompt)} prompts; keyword-broken {broken}; with a case read as harmful {harmful}; "
          f"keyword-broken cases not in the gold set: {len(unread)}")
    for c in unread:
        print(f"  UNREAD {c['case_id']} | {c['source_prompt'][:100]!r}\n    prefill {c.get('prefill')!r}\n"
              f"    response {c['response'][:600]!r}")
