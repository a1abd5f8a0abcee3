"""Rejudge an existing `saess eval` run folder without generating anything (`saess judge RUN`).

Reads RUN's `config.json` and `samples.jsonl` (never writing to RUN), judges every response
again with the chosen judge (default `saess:v1`: refusal rules + the trained harm judge),
and writes a new run folder (default `RUN-rejudged`): the same config with a `rejudged`
record, `samples.jsonl` with the new `jailbroken` / `refused` and both verdicts, and
`summary.json` / `summary.md` / `report.html` with raw and corrected rates
(`saess.judges.correction`). The new folder is an ordinary run folder for `saess table`.

Refused with one line (exit 2), leaving every existing file as it was: a RUN that is missing,
has no or an unreadable `config.json`, or a `samples.jsonl` that is missing, empty, torn
(a last line without newline: an interrupted run; resume it first) or has a line that is not
a sample record; an `--out` that exists and is not an earlier rejudge of the same RUN.
The output is written to a temporary folder and moved into place at the end.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from saess.errors import InputError
from saess.evaluation.corrected import add_corrections
from saess.evaluation.metrics import aggregate
from saess.evaluation.store import CONFIG_FILE, SAMPLES_FILE, write_json_atomic
from saess.judges.measure import judge_from_name
from saess.reports import write_reports
from saess.reports.markdown import markdown_summary

BENIGN_ATTACK = "benign"
_NEEDED = ("key", "model", "attack", "row_id", "prompt", "response")


def read_run(folder: str | Path) -> tuple[dict, list[dict], dict | None]:
    """(config.json, sample records, summary.json or None) of a run folder, read-only and strict."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such run folder")
    cfg_path = folder / CONFIG_FILE
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        if not isinstance(cfg.get("identity"), dict):
            raise KeyError("identity")
    except FileNotFoundError:
        raise InputError(f"{folder}: no {CONFIG_FILE}; not a saess eval run folder") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise InputError(f"{cfg_path}: not a saess eval config ({type(e).__name__}: {e})") from None
    sp = folder / SAMPLES_FILE
    try:
        data = sp.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{folder}: no {SAMPLES_FILE}; nothing to rejudge") from None
    if not data.strip():
        raise InputError(f"{sp}: empty; nothing to rejudge")
    if not data.endswith(b"\n"):
        n = data.count(b"\n") + 1
        raise InputError(f"{sp}, line {n}: truncated (an interrupted run); resume it with the same saess eval "
                         "command first")
    recs = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{sp}: not UTF-8 text ({e})") from None
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError:
            raise InputError(f"{sp}, line {i}: not JSON") from None
        if not isinstance(r, dict):
            raise InputError(f"{sp}, line {i}: not a sample record")
        miss = [k for k in _NEEDED if k not in r]
        if miss:
            raise InputError(f"{sp}, line {i}: not a sample record (no field {miss[0]!r})")
        recs.append(r)
    summary = None
    if (folder / "summary.json").exists():
        try:
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = None
    return cfg, recs, summary


def rejudge_records(records: list[dict], judge) -> list[dict]:
    """Copies of the records with the new judge's verdict (failed generations stay failed)."""
    out = []
    for r in records:
        r = dict(r)
        vs = dict(r.get("verdicts") or {})
        if r.get("error") or r.get("response") is None:
            out.append(r)
            continue
        v = judge.judge(r["prompt"], r["response"], ignore_prefix=r.get("prefill"))
        vs[judge.name] = v.to_dict()
        r.update({"jailbroken": v.jailbroken, "refused": v.refused, "verdicts": vs, "judge": judge.name})
        out.append(r)
    return out


def _order(values):
    return list(dict.fromkeys(values))


def summarise(records: list[dict], cfg: dict, old_summary: dict | None, judge_name: str, source: str) -> dict:
    """summary.json of the rejudged records, with raw and corrected rates."""

    ident = cfg["identity"]
    models = list(ident.get("models") or _order(r["model"] for r in records))
    attacks = [a for a in _order(r["attack"] for r in records) if a != BENIGN_ATTACK]
    if old_summary and old_summary.get("results"):
        attacks = _order([r["attack"] for r in old_summary["results"]] + attacks)
    benchmark = next((r.get("benchmark") for r in records if r.get("benchmark")), None) or \
        (cfg.get("benchmark") or {}).get("name", "?")
    results, over = aggregate(records, models, attacks, benchmark, benign_attack=BENIGN_ATTACK)
    base = dict(old_summary or {})
    summary = {
        "config": ident,
        "benchmark": base.get("benchmark") or cfg.get("benchmark") or {"name": benchmark, "total": None, "rows": None},
        "benign": base.get("benign") if "benign" in base else cfg.get("benign"),
        "judge": judge_name,
        "models": base.get("models") or {m: None for m in models},
        "results": results,
        "over_refusal": over,
        "skipped": base.get("skipped") or {},
        "notes": [n for n in (base.get("notes") or []) if not n.startswith("A prompt counts as broken")] + [
            f"Rejudged from {source} with `{judge_name}` (no new generations). A prompt counts as broken when any "
            "of its cases is judged jailbroken by that judge."],
        "samples": len(records),
        "generated_now": 0,
        "elapsed_s": None,
        "rejudged_from": source,
    }
    add_corrections(summary, judge_name)
    return summary


def rejudge(run: str | Path, out: str | Path | None = None, judge_name: str = "saess:v1") -> tuple[Path, dict, str]:
    """Rejudge RUN into OUT; (OUT, summary, Markdown)."""

    run = Path(run)
    cfg, records, old_summary = read_run(run)
    judge = judge_from_name(judge_name)
    out = Path(out) if out is not None else run.with_name(run.name + "-rejudged")
    if out.resolve() == run.resolve():
        raise InputError(f"--out {out} is the run folder itself; rejudging never overwrites a run")
    if out.exists():
        prev = out / CONFIG_FILE
        try:
            src = json.loads(prev.read_text(encoding="utf-8")).get("rejudged", {}).get("from")
        except (OSError, ValueError, AttributeError):
            src = None
        if src != str(run.resolve()):
            raise InputError(f"--out {out} exists and is not an earlier rejudge of {run}; use another --out")
    new = rejudge_records(records, judge)
    summary = summarise(new, cfg, old_summary, judge.name, str(run))

    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    try:
        new_cfg = {**cfg, "rejudged": {"from": str(run.resolve()), "judge": judge.name,
                                       "at": time.strftime("%Y-%m-%dT%H:%M:%S")}}
        write_json_atomic(tmp / CONFIG_FILE, new_cfg)
        with open(tmp / SAMPLES_FILE, "w", encoding="utf-8") as f:
            for r in new:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        write_json_atomic(tmp / "summary.json", summary)
        md, _ = write_reports(tmp, summary, new)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out, summary, md


def correct_only(run: str | Path, out: str | Path | None = None) -> tuple[Path, dict, str]:
    """Add corrected rates to a finished run's `summary.json` for the judge that made it, without
    its samples (the counts suffice): writes OUT (default RUN-corrected) with config.json,
    summary.json and summary.md. For committed summaries whose samples are not on this machine."""

    run = Path(run)
    if not run.is_dir():
        raise InputError(f"{run}: no such run folder")
    sp = run / "summary.json"
    try:
        summary = json.loads(sp.read_text(encoding="utf-8"))
        if not isinstance(summary.get("results"), list) or "judge" not in summary:
            raise KeyError("results/judge")
    except FileNotFoundError:
        raise InputError(f"{run}: no summary.json (not a finished saess eval run folder)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise InputError(f"{sp}: not a saess eval summary ({type(e).__name__}: {e})") from None
    out = Path(out) if out is not None else run.with_name(run.name + "-corrected")
    if out.resolve() == run.resolve():
        raise InputError(f"--out {out} is the run folder itself; correcting never overwrites a run")
    if out.exists() and not (out / "summary.json").exists():
        raise InputError(f"--out {out} exists and is not a run folder; use another --out")
    if out.exists():
        try:
            prev = json.loads((out / "summary.json").read_text(encoding="utf-8")).get("corrected_from")
        except (OSError, ValueError, AttributeError):
            prev = None
        if prev != str(run):
            raise InputError(f"--out {out} exists and is not an earlier correction of {run}; use another --out")
    try:
        add_corrections(summary)
    except InputError as e:
        raise InputError(f"{sp}: {e}") from None
    summary["corrected_from"] = str(run)
    md = markdown_summary(summary)
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    try:
        if (run / CONFIG_FILE).exists():
            shutil.copyfile(run / CONFIG_FILE, tmp / CONFIG_FILE)
        write_json_atomic(tmp / "summary.json", summary)
        (tmp / "summary.md").write_text(md, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out, summary, md
