"""Reports of an evaluation run: a Markdown table, PNG plots and an HTML page.

`write_reports(folder, summary, records)` writes `summary.md`, `asr.png`,
`over_refusal.png` (when benign prompts were run), `trace.png` and `report.html` into the
run folder and returns (the Markdown text, the file names written).
"""

from pathlib import Path

from saess.reports.html import write_html
from saess.reports.markdown import markdown_summary, results_table
from saess.reports.plots import choose_trace_samples, plot_asr, plot_over_refusal, plot_traces


def write_reports(folder, summary: dict, records: list[dict]) -> tuple[str, list[str]]:
    folder = Path(folder)
    md = markdown_summary(summary)
    (folder / "summary.md").write_text(md, encoding="utf-8")
    files = ["summary.md"]
    images = []
    if plot_asr(summary["results"], folder / "asr.png", summary["judge"]):
        images.append(("asr.png", f"Attack success rate per attack and model (judge {summary['judge']}), "
                                  "95% Wilson intervals"))
    if summary.get("over_refusal") and plot_over_refusal(summary["over_refusal"], folder / "over_refusal.png"):
        images.append(("over_refusal.png", "Over-refusal on benign prompts, 95% Wilson intervals"))
    chosen = choose_trace_samples(records)
    if chosen and plot_traces(chosen, folder / "trace.png"):
        images.append(("trace.png", "p_malicious of the [CLS] signal along the response (step 0: the query)"))
    write_html(folder / "report.html", summary, images, chosen)
    files += [name for name, _ in images] + ["report.html"]
    return md, files


__all__ = ["choose_trace_samples", "markdown_summary", "plot_asr", "plot_over_refusal", "plot_traces",
           "results_table", "write_html", "write_reports"]
