"""`report.html`: the results table, the plots (PNG files next to it) and the plotted samples."""

from __future__ import annotations

import html
from pathlib import Path

from saess.reports.markdown import ci, corrected, pct

_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:nth-child(-n+3),th{text-align:left}pre{white-space:pre-wrap;background:#f6f6f6;padding:6px;font-size:90%}
.note{color:#555;font-size:90%}"""


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _table(results: list[dict]) -> str:
    head = ["model", "attack", "benchmark", "n", "broken", "ASR", "95% CI", "corrected ASR [95%]", "over-refusal",
            "corrected over-refusal [95%]", "mean tokens", "tokens/s"]
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in results:
        over = "—" if r.get("over_refusal_n") is None else \
            f"{pct(r['over_refusal'])} ({r['over_refusal_count']}/{r['over_refusal_n']})"
        mt = r.get("mean_response_tokens")
        tps = r.get("tokens_per_s")
        cells = [r["model"], r["attack"], r["benchmark"], r["n"], r["successes"], pct(r["asr"]), ci(r["ci95"]),
                 corrected(r.get("asr_corrected")), over, corrected(r.get("over_refusal_corrected")), "n/a" if mt is None else f"{mt:.1f}", "n/a" if tps is None else f"{tps:.1f}"]
        out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _sample(r: dict) -> str:
    tr = " | ".join(f"@{t['step']}: {t['p_malicious']:.2f}" + (" guide" if "inserted_guide_at" in t else "")
                    for t in r["trace"][:40])
    resp = r.get("response") or ""
    return (f"<h3>{_e(r['model'])} / {_e(r['attack'])} / row {_e(r['row_id'])} ({_e(r['config_name'])})</h3>"
            f"<p class=note>jailbroken: {_e(r.get('jailbroken'))}; refused: {_e(r.get('refused'))}; "
            f"reliance: {_e(r.get('reliance'))}; finish: {_e(r.get('finish_reason'))}</p>"
            f"<b>prompt</b><pre>{_e(r['prompt'][:1500])}</pre>"
            + (f"<b>prefill</b><pre>{_e(r['prefill'])}</pre>" if r.get("prefill") else "")
            + f"<b>response</b><pre>{_e(resp[:2000])}</pre><b>trace</b><pre>{_e(tr)}</pre>")


def write_html(path: str | Path, summary: dict, images: list[tuple[str, str]], samples: list[dict]) -> None:
    b = summary["benchmark"]
    parts = ["<!doctype html><html><head><meta charset=utf-8><title>saess eval report</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>saess eval: {_e(b['name'])} ({b['rows']} of {b['total']} prompts)</h1>",
             f"<p>Judge: <code>{_e(summary['judge'])}</code>. ASR = prompts broken / prompts evaluated; a prompt "
             "is broken when any of its cases is judged jailbroken. CI: 95% Wilson interval.</p>"]
    models = summary.get("models") or {}
    if models:
        parts.append("<ul>" + "".join(
            f"<li><code>{_e(m)}</code>: " + ("not run" if i is None else "plain LM (reliance off)"
                                             if i["reliance"] == "off" else
                                             f"reliance {_e(i['reliance'])}, schedule {_e(i['schedule'])}")
            + "</li>" for m, i in models.items()) + "</ul>")
    parts.append(_table(summary["results"]))
    if summary.get("correction"):
        parts.append(f"<p class=note>Corrected rates: {_e(summary['correction']['method'])}; judge "
                     f"<code>{_e(summary['correction']['judge'])}</code> (docs/judges.md).</p>")
    for name, caption in images:
        parts.append(f"<figure><img src=\"{_e(name)}\" alt=\"{_e(caption)}\"><figcaption class=note>"
                     f"{_e(caption)}</figcaption></figure>")
    if summary.get("notes"):
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in summary["notes"]) + "</ul>")
    if samples:
        parts.append("<h2>Plotted samples</h2>")
        parts += [_sample(r) for r in samples]
    parts.append("</body></html>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
