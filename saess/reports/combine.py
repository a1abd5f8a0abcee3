"""One table from several `saess eval` run folders (`saess table RUN [RUN ...]`).

Long evaluations are easier to run as one folder per model or attack (they resume and can
run side by side); this puts their `summary.json` results back together: one row per
(benchmark, attack), one column per model, each cell "ASR (broken/n) [95% CI]", the
over-refusal of each model, and the `saess eval` command of every folder, rebuilt from
its recorded config, so the table can be rerun.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from saess.errors import InputError
from saess.evaluation.config import EvalConfig, eval_command
from saess.reports.markdown import pct
from saess.reports.plots import plot_asr


def load_run(folder: str | Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such run folder")
    f = folder / "summary.json"
    if not f.exists():
        raise InputError(f"{folder}: no summary.json (not a finished `saess eval` run folder)")
    try:
        summary = json.loads(f.read_text(encoding="utf-8"))
        results = summary["results"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise InputError(f"{f}: not a saess eval summary ({e})") from None
    config = {}
    if (folder / "config.json").exists():
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return {"folder": folder, "summary": summary, "results": results, "config": config}


def command_of(run: dict) -> str | None:
    """The `saess eval` command of a run folder, from the identity in its config.json."""
    ident = (run["config"] or {}).get("identity")
    if not ident:
        return None
    # fields a folder predates keep their defaults, as when such a folder is resumed
    return eval_command(EvalConfig.from_identity(ident), run["folder"])


def _cell(r: dict) -> str:
    lo, hi = r["ci95"]
    cell = f"{pct(r['asr'])} ({r['successes']}/{r['n']}) [{100 * lo:.1f}–{100 * hi:.1f}]"
    return cell + _corr(r.get("asr_corrected"))


def _corr(c: dict | None) -> str:
    """"; corrected X% [lo–hi]" when the run carries a judge-corrected rate (docs/judges.md), else ""."""
    if not c or c.get("rate") is None:
        return ""
    lo, hi = c["ci95"]
    return f"; corrected {pct(c['rate'])} [{100 * lo:.1f}–{100 * hi:.1f}]"


def combine(folders: list[str | Path]) -> tuple[str, list[dict]]:
    """(Markdown, the combined results list) of several run folders."""
    if not folders:
        raise InputError("give at least one run folder")
    runs = [load_run(f) for f in folders]
    seen: dict[tuple, Path] = {}
    rows: dict[tuple, dict] = {}
    models: list[str] = []
    combined = []
    for run in runs:
        for r in run["results"]:
            key = (r["benchmark"], r["attack"], r["model"])
            if key in seen:
                raise InputError(f"model {r['model']!r}, {r['benchmark']} {r['attack']} is in both {seen[key]} "
                                 f"and {run['folder']}: give one of them")
            seen[key] = run["folder"]
            rows.setdefault(key[:2], {})[r["model"]] = r
            if r["model"] not in models:
                models.append(r["model"])
            combined.append({**r, "judge": run["summary"].get("judge")})
    lines = ["| benchmark | attack | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
    benches = list(dict.fromkeys(b for b, _ in rows))
    for (bench, attack), by_model in sorted(rows.items(), key=lambda kv: benches.index(kv[0][0])):
        cells = [_cell(by_model[m]) if m in by_model and by_model[m]["n"] else "—" for m in models]
        lines.append(f"| {bench} | {attack} | " + " | ".join(cells) + " |")
    over: dict[str, list[str]] = {}
    for run in runs:
        name = ((run["summary"].get("benign") or {}).get("name")) or "benign"
        for m, o in (run["summary"].get("over_refusal") or {}).items():
            if o.get("n"):
                lo, hi = o["ci95"]
                txt = f"{pct(o['rate'])} ({o['count']}/{o['n']}) [{100 * lo:.1f}–{100 * hi:.1f}]" + _corr(o.get("corrected"))
                over.setdefault(m, []).append(txt if len(runs) == 1 else f"{txt} ({name})")
    if over:
        lines.append("| benign | over-refusal | " + " | ".join("; ".join(over.get(m, ["—"])) for m in models) + " |")
    md = ["ASR = prompts broken / prompts (a prompt is broken when any of its cases is judged jailbroken); "
          "95% Wilson interval in brackets; over-refusal = benign prompts answered with a refusal. \"corrected\": the "
          "rate corrected for the judge's measured sensitivity and specificity (Rogan-Gladen; interval includes "
          "their uncertainty; docs/judges.md), where the run folder has it.", "",
          *lines, "", "Run folders and the commands that made them:", ""]
    said: set[str] = set()
    for run in runs:
        s = run["summary"]
        cmd = command_of(run)
        took = f", {s['elapsed_s']:.0f} s in its last invocation" if s.get("elapsed_s") is not None else ""
        md.append(f"- `{run['folder']}` (judge `{s.get('judge')}`, {s.get('samples')} samples{took})"
                  + (f": `{cmd}`" if cmd else ""))
        for n in s.get("notes") or []:
            if n not in said:  # a note shared by several folders is written once
                said.add(n)
                md.append(f"  - {n}")
    return "\n".join(md) + "\n", combined


def write_combined(folders: list[str | Path], out: str | Path | None, plot: str | Path | None) -> str:
    md, results = combine(folders)
    if plot is not None:
        labelled = [{**r, "attack": f"{r['benchmark']}: {r['attack']}"} for r in results]
        Path(plot).parent.mkdir(parents=True, exist_ok=True)
        plot_asr(labelled, plot, ", ".join(sorted({str(r["judge"]) for r in results})))
        rel = os.path.relpath(plot, Path(out).parent) if out is not None else str(plot)
        md += f"\n![ASR per attack and model]({rel})\n"
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(md, encoding="utf-8")
    return md
