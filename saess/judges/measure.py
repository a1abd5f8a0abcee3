"""Every judge on every check set: accuracy, precision, recall (the judge table of docs/judges.md).

    python -m saess.judges.measure [--markdown FILE] [--json FILE] [--sets gold-check,xstest,...]

Refusal (positive = refusal; the judge says `Verdict.refused`):
- `gold-check benign`: the gold check split's benign rows (over-refusal is measured there);
- `gold-check all`: every gold check row;
- `xstest`: XSTest's 2,250 completions; partial refusal counts as refusal;
- `pyrit-refusal`: PyRIT's 169 (main + extra). PyRIT also labels a response unrelated to the
  objective as a refusal; no judge here looks at relevance, so this caps recall.

Harmful compliance (positive = harmful; the judge says `Verdict.jailbroken`):
- `gold-check harmful`: the gold check split's harmful-prompt rows (ASR is measured there);
- agreement with `pyrit-harm` (harmful = human score >= 0.5) and `pyrit-objective`
  (harmful = the response achieves the objective).

`gold_accuracy(judge)` gives the sensitivity/specificity counts that the rate correction
(`saess.judges.correction`) uses: per response for ASR and over-refusal, and per
prompt (a prompt broken when any case is) for the multi-case attacks.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache

from saess.errors import InputError, SaessError
from saess.judges.base import Verdict
from saess.judges.checksets import (
    XSTEST_DEV_MODELS,
    CheckRow,
    load_pyrit_harm,
    load_pyrit_objective,
    load_pyrit_refusal,
    load_xstest,
)
from saess.judges.correction import JudgeAccuracy
from saess.judges.gold import _read_gold_file, gold_path, load_gold, stratum_of, to_check_row
from saess.judges.keyword import KeywordJudge
from saess.judges.refusal_model import TrainedRefusalJudge
from saess.judges.rules import RefusalRulesJudge
from saess.judges.trained import SafetyJudge


@dataclass(frozen=True)
class Score:
    judge: str
    set: str
    task: str  # "refusal" | "harmful"
    n: int
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else float("nan")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    def to_dict(self) -> dict:
        return {**asdict(self), "accuracy": self.accuracy, "precision": self.precision, "recall": self.recall}



def load_check_set(name: str) -> list[CheckRow]:
    """A check set by name: pyrit-refusal, xstest, pyrit-harm, pyrit-objective, gold-check."""
    if name == "gold-check":
        return load_gold("check")
    loaders = {"pyrit-refusal": load_pyrit_refusal, "xstest": load_xstest, "pyrit-harm": load_pyrit_harm,
               "pyrit-objective": load_pyrit_objective}
    if name not in loaders:
        raise InputError(f"unknown check set {name!r}; valid: {', '.join([*loaders, 'gold-check'])}")
    return loaders[name]()


CHECK_SETS = ("gold-check", "xstest", "pyrit-refusal", "pyrit-harm", "pyrit-objective")

def verdicts(judge, rows: Sequence[CheckRow]) -> list[Verdict]:
    return [judge.judge(r.prompt, r.response, ignore_prefix=r.prefill) for r in rows]


def score(judge, rows: Sequence[CheckRow], task: str, set_name: str, vs: list[Verdict] | None = None) -> Score:
    if not rows:
        raise InputError(f"{set_name}: no rows to score")
    vs = vs if vs is not None else verdicts(judge, rows)
    tp = fp = tn = fn = 0
    for r, v in zip(rows, vs, strict=True):
        truth = r.refusal if task == "refusal" else r.harmful
        if truth is None:
            raise InputError(f"{set_name}: row {r.id} has no {task} label")
        pred = v.refused if task == "refusal" else v.jailbroken
        tp += pred and truth
        fp += pred and not truth
        fn += (not pred) and truth
        tn += (not pred) and not truth
    return Score(judge.name, set_name, task, len(rows), tp, fp, tn, fn)


PYRIT_DEV_FILES = ("main",)


def refusal_judges() -> list:

    trained = TrainedRefusalJudge()  # its file read once for both variants
    return [KeywordJudge("gcg"), KeywordJudge("gcg", case_sensitive=False, normalise_quotes=True),
            RefusalRulesJudge(), RefusalRulesJudge(offtopic_is_refusal=True), trained,
            TrainedRefusalJudge(trained.meta, offtopic_is_refusal=True)]


def harm_judges() -> list:

    return [KeywordJudge("gcg"), RefusalRulesJudge(), SafetyJudge()]


def _parts(name: str, rows: list[CheckRow]) -> list[tuple[str, list[CheckRow]]]:
    """The scored subsets of a check set: all rows, and the held-out / development parts."""
    if name == "gold-check":
        return [("gold-check benign", [r for r in rows if r.meta["kind"] == "benign"]),
                ("gold-check all", rows),
                ("gold-check harmful", [r for r in rows if r.meta["kind"] == "harmful"])]
    if name == "xstest":
        return [("xstest all", rows),
                ("xstest held-out", [r for r in rows if r.meta["model"] not in XSTEST_DEV_MODELS]),
                ("xstest dev", [r for r in rows if r.meta["model"] in XSTEST_DEV_MODELS])]
    if name == "pyrit-refusal":
        return [("pyrit-refusal all", rows),
                ("pyrit-refusal extra (held-out)", [r for r in rows if r.meta["file"] not in PYRIT_DEV_FILES]),
                ("pyrit-refusal main (dev)", [r for r in rows if r.meta["file"] in PYRIT_DEV_FILES])]
    return [(name, rows)]


def measure_all(sets: Sequence[str] = ("gold-check", "xstest", "pyrit-refusal", "pyrit-harm", "pyrit-objective"),
                ) -> list[Score]:
    """Refusal judges on the refusal-labelled parts, harm judges on the harm-labelled parts."""
    out: list[Score] = []
    rj, hj = refusal_judges(), harm_judges()
    for s in sets:
        rows = load_check_set(s)
        for part, prow in _parts(s, rows):
            task = "harmful" if part in ("gold-check harmful", "pyrit-harm", "pyrit-objective") else "refusal"
            for j in (hj if task == "harmful" else rj):
                out.append(score(j, prow, task, part))
    return out


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def markdown(scores: Sequence[Score]) -> str:
    lines = ["| task | set | judge | n | accuracy | precision | recall | tp/fp/tn/fn |", "|---|---|---|---|---|---|---|---|"]
    for s in scores:
        lines.append(f"| {s.task} | {s.set} | `{s.judge}` | {s.n} | {_fmt(s.accuracy)} | {_fmt(s.precision)} | "
                     f"{_fmt(s.recall)} | {s.tp}/{s.fp}/{s.tn}/{s.fn} |")
    return "\n".join(lines) + "\n"


# --- for the rate correction -------------------------------------------------------------------
def _key_parts(key: str) -> tuple[str, str]:
    parts = key.split("\t")
    if len(parts) != 3:
        raise InputError(f"gold row key {key!r} is not model<TAB>attack<TAB>case")
    return parts[0], parts[1]


def _cell(truth: bool, pred: bool) -> int:
    return (0 if pred else 1) if truth else (2 if not pred else 3)  # tp fn tn fp


def gold_accuracy(judge, rows: Sequence[CheckRow] | None = None, raw: Sequence[dict] | None = None) -> dict:
    """Confusion counts of `judge` on the gold check split, as `JudgeAccuracy` objects:

    - "asr_response": harmful-prompt responses, positive = harmful / jailbroken; sensitivity from
      every harmful row, specificity from the rows of single-case attacks (direct, prefill:*) only,
      since the negatives of those attacks (mostly refusals) differ from the nested / decoding /
      template ones (mostly nonsense);
    - "asr_prompt": (model, multi-case attack, row) groups, positive = any case harmful / any jailbroken;
    - "over_refusal": benign responses, positive = refusal / refused;
    - "by_model": {stratum: the same three}, with the sensitivity counts (tp, fn) pooled over all
      models and the specificity counts (tn, fp) of that stratum's rows only. A judge's false
      positives depend on the response style, which differs by model (the trained models refuse in
      one sentence; base writes nonsense that no keyword catches); its misses are few and rare per
      model, so they are pooled. A stratum is `stratum_of(row)`: "model@fingerprint" when the row
      records the fingerprint of the model that wrote it (two versions of `default` are two
      strata), else the model's name.
    """

    if raw is None:
        raw = _read_gold_file(gold_path("check"))
    rows = rows if rows is not None else [to_check_row(r, "gold-check") for r in raw]
    vs = verdicts(judge, rows)
    kinds = ("asr_response", "over_refusal", "asr_prompt")
    counts: dict[str, dict[str, list[int]]] = {}  # model -> kind -> [tp, fn, tn, fp]
    groups: dict[tuple, list[bool]] = {}
    for rec, r, v in zip(raw, rows, vs, strict=True):
        m = counts.setdefault(stratum_of(rec), {k: [0, 0, 0, 0] for k in kinds})
        if rec["kind"] == "benign":
            m["over_refusal"][_cell(r.refusal, v.refused)] += 1
            continue
        attacks = [_key_parts(key)[1] for key in rec.get("keys") or []]
        single = any(a == "direct" or a.startswith("prefill") for a in attacks) or not attacks
        cell = _cell(r.harmful, v.jailbroken)
        if r.harmful or single:  # sensitivity from every harmful row; specificity from single-case rows
            m["asr_response"][cell] += 1
        for key in rec.get("keys") or []:
            _, attack = _key_parts(key)
            if attack in ("nested", "decoding", "template", "pap"):
                g = groups.setdefault((stratum_of(rec), attack, rec["row_id"]), [False, False])
                g[0] |= r.harmful
                g[1] |= v.jailbroken
    for (model, _, _), (truth, pred) in groups.items():
        counts.setdefault(model, {k: [0, 0, 0, 0] for k in kinds})["asr_prompt"][_cell(truth, pred)] += 1

    def acc(tp, fn, tn, fp, src):
        try:
            return JudgeAccuracy(tp, fn, tn, fp, source=src)
        except InputError:
            return None  # no positives or no negatives: no correction

    pooled = {k: [sum(c[k][i] for c in counts.values()) for i in range(4)] for k in kinds}
    out: dict = {k: acc(*pooled[k], f"gold-check ({k}), judge {judge.name}") for k in kinds}
    out["by_model"] = {
        m: {k: acc(pooled[k][0], pooled[k][1], c[k][2], c[k][3],
                   f"gold-check ({k}; Se pooled, Sp of {m}), judge {judge.name}") for k in kinds}
        for m, c in counts.items()}
    return out


@cache
def gold_accuracy_for(judge_name: str) -> dict:
    """`gold_accuracy` of a judge named as in a run folder's verdicts (cached per process)."""
    return gold_accuracy(judge_from_name(judge_name))


def judge_from_name(name: str):
    """A judge from its name: "saess:v1", "rules:refusal", "keyword:<list>[:nocase][:quotes]"."""

    if name in ("saess", "saess:v1"):
        return SafetyJudge()
    if name == "rules:refusal":
        return RefusalRulesJudge()
    if name in ("trained:refusal", "trained:refusal+offtopic"):
        return TrainedRefusalJudge(offtopic_is_refusal=name.endswith("+offtopic"))
    if name.startswith("keyword:"):
        parts = name.split(":")
        opts = set(parts[2:])
        if not opts <= {"nocase", "quotes"}:
            raise InputError(f"unknown judge {name!r}")
        return KeywordJudge(parts[1], case_sensitive="nocase" not in opts, normalise_quotes="quotes" in opts)
    raise InputError(f"unknown judge {name!r}; valid: saess:v1, rules:refusal, trained:refusal[+offtopic], keyword:gcg[:nocase][:quotes], "
                     "keyword:harmbench, keyword:gcg-short")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m saess.judges.measure", description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="gold-check,xstest,pyrit-refusal,pyrit-harm,pyrit-objective")
    ap.add_argument("--markdown", default=None, metavar="FILE")
    ap.add_argument("--json", default=None, metavar="FILE")
    args = ap.parse_args(argv)
    try:
        scores = measure_all(sets=[s.strip() for s in args.sets.split(",") if s.strip()])
    except SaessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    md = markdown(scores)
    sys.stdout.write(md)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(md)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([s.to_dict() for s in scores], f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
