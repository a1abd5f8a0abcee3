"""How often the refusal-keyword judge agrees with human refusal labels.

Check set: PyRIT's human-labelled refusal scorer evaluation set (`pyrit==1.1.0`, MIT):
`refusal.csv` (105 responses, dataset_version 1.2) and `refusal_extra.csv` (64 more).
Columns: `objective`, `assistant_response`, `human_score` (1 = refusal, 0 = not),
`data_type`. Lines starting with "#" are comments. Note PyRIT's definition of refusal
also counts a response that is unrelated to the objective (a non-sequitur) as a refusal;
a keyword judge cannot see that, which caps its recall.

Positive class = "refusal". The keyword judge predicts refusal when `Verdict.refused`.

Run: `python -m saess.judges.agreement [--set main|extra|all] [--keywords gcg|gcg-short|harmbench]
[--case-insensitive] [--normalise-quotes] [--json] [--errors]`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from saess.assets import PackagedFile, fetch
from saess.errors import InputError, SaessError
from saess.judges.base import Judge
from saess.judges.keyword import KEYWORD_LISTS, KeywordJudge

_PYRIT_WHEEL_SHA256 = "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a"
_DIR = "pyrit/datasets/scorer_evals/refusal_scorer/"

REFUSAL_CHECK_SETS: dict[str, PackagedFile] = {
    "main": PackagedFile("pyrit", "1.1.0", _DIR + "refusal.csv",
                         "1ebc42ef7dadd97962cc00d04edd6a52a321f7936c063ff3453d2bbcef30a5d7", "MIT",
                         _PYRIT_WHEEL_SHA256),
    "extra": PackagedFile("pyrit", "1.1.0", _DIR + "refusal_extra.csv",
                          "6ce7f61a8205eb8c29b1a247b52b3730501349f9adf0674a696efb004658a18a", "MIT",
                          _PYRIT_WHEEL_SHA256),
}


@dataclass(frozen=True)
class LabelledResponse:
    objective: str
    response: str
    refusal: bool  # the human label


def read_refusal_csv(path: str | Path) -> list[LabelledResponse]:
    """Parse a PyRIT refusal CSV (comment lines start with '#')."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read {path}: {e}") from e
    # Only leading comment lines are skipped: a '#' inside a quoted response must stay.
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        i += 1
    reader = csv.DictReader(io.StringIO("".join(lines[i:])))
    need = {"objective", "assistant_response", "human_score"}
    if not reader.fieldnames or not need <= set(reader.fieldnames):
        raise InputError(f"{path}: expected columns {sorted(need)}, got {reader.fieldnames}")
    out = []
    for n, row in enumerate(reader, start=1):
        score = (row["human_score"] or "").strip()
        if score not in ("0", "1"):
            raise InputError(f"{path}: data row {n}: human_score must be 0 or 1, got {score!r}")
        out.append(LabelledResponse(row["objective"] or "", row["assistant_response"] or "", score == "1"))
    return out


def load_refusal_check_set(which: str = "main") -> list[LabelledResponse]:
    """PyRIT's labelled responses: "main" (refusal.csv), "extra" (refusal_extra.csv) or "all"."""
    if which == "all":
        return load_refusal_check_set("main") + load_refusal_check_set("extra")
    if which not in REFUSAL_CHECK_SETS:
        raise InputError(f"unknown check set {which!r}; valid: main, extra, all")
    return read_refusal_csv(fetch(REFUSAL_CHECK_SETS[which]))


@dataclass(frozen=True)
class Agreement:
    """Confusion counts and rates, positive class = refusal."""

    judge: str
    dataset: str
    n: int
    tp: int  # judge refusal, human refusal
    fp: int  # judge refusal, human not
    tn: int
    fn: int  # judge not, human refusal

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else float("nan")

    @property
    def precision(self) -> float:
        d = self.tp + self.fp
        return self.tp / d if d else float("nan")

    @property
    def recall(self) -> float:
        d = self.tp + self.fn
        return self.tp / d if d else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if (p + r) else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(accuracy=self.accuracy, precision=self.precision, recall=self.recall, f1=self.f1)
        return d

    def format(self) -> str:
        return (f"{self.judge} on {self.dataset}: n={self.n} accuracy={self.accuracy:.3f} "
                f"refusal precision={self.precision:.3f} recall={self.recall:.3f} f1={self.f1:.3f} "
                f"(tp={self.tp} fp={self.fp} tn={self.tn} fn={self.fn})")


def measure_agreement(
    judge: Judge | None = None,
    rows: Sequence[LabelledResponse] | None = None,
    *,
    dataset: str = "main",
) -> Agreement:
    """Agreement of `judge` (default `KeywordJudge("gcg")`) with the human refusal labels."""
    judge = judge if judge is not None else KeywordJudge("gcg")
    if rows is None:
        rows = load_refusal_check_set(dataset)
        name = f"pyrit-1.1.0:{dataset}"
    else:
        name = "custom"
    if not rows:
        raise InputError("no labelled responses to measure agreement on")
    tp = fp = tn = fn = 0
    for r in rows:
        pred = judge.judge(r.objective, r.response).refused
        if pred and r.refusal:
            tp += 1
        elif pred:
            fp += 1
        elif r.refusal:
            fn += 1
        else:
            tn += 1
    return Agreement(judge=judge.name, dataset=name, n=len(rows), tp=tp, fp=fp, tn=tn, fn=fn)


def disagreements(judge: Judge, rows: Sequence[LabelledResponse]) -> list[tuple[LabelledResponse, bool]]:
    """The rows where the judge's refusal call differs from the human label."""
    out = []
    for r in rows:
        pred = judge.judge(r.objective, r.response).refused
        if pred != r.refusal:
            out.append((r, pred))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m saess.judges.agreement", description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="main", choices=["main", "extra", "all"])
    ap.add_argument("--keywords", default="all", choices=[*KEYWORD_LISTS, "all"])
    ap.add_argument("--case-insensitive", action="store_true")
    ap.add_argument("--normalise-quotes", action="store_true",
                    help="map typographic quotes to ASCII before matching")
    ap.add_argument("--json", action="store_true", help="print one JSON object per judge")
    ap.add_argument("--errors", action="store_true", help="print the disagreements")
    args = ap.parse_args(argv)
    try:
        rows = load_refusal_check_set(args.set)
        names = KEYWORD_LISTS if args.keywords == "all" else (args.keywords,)
        for kw in names:
            judge = KeywordJudge(kw, case_sensitive=not args.case_insensitive,
                                 normalise_quotes=args.normalise_quotes)
            a = measure_agreement(judge, rows)
            a = Agreement(**{**asdict(a), "dataset": f"pyrit-1.1.0:{args.set}"})
            print(json.dumps(a.to_dict()) if args.json else a.format())
            if args.errors:
                for r, pred in disagreements(judge, rows):
                    lab = "refusal" if r.refusal else "not refusal"
                    print(f"  human={lab:11s} judge={'refusal' if pred else 'not refusal':11s} "
                          f"{r.response[:100]!r}")
    except SaessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
