"""The Markdown summary of an evaluation run (`summary.md`, also printed at the end of `saess eval`)."""

from __future__ import annotations


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def ci(c: list[float] | None) -> str:
    return "n/a" if not c else f"[{100 * c[0]:.1f}, {100 * c[1]:.1f}]"


def _num(x: float | None, fmt: str = ".1f") -> str:
    return "n/a" if x is None else format(x, fmt)


def corrected(c: dict | None) -> str:
    """A corrected rate (saess.judges.correction) as "12.3% [4.5, 20.1]", "—" when there is none, or
    "below judge floor (FP 32.4%)" when the raw rate is confidently below the judge's false-positive rate."""
    if not c or c.get("rate") is None:
        return "—"
    if c.get("below_floor"):
        return f"below judge floor (FP {pct(c.get('floor'))})"
    return f"{pct(c['rate'])} {ci(c.get('ci95'))}"


def results_table(results: list[dict]) -> str:
    head = ["model", "attack", "benchmark", "n", "broken", "ASR", "95% CI", "corrected ASR [95%]", "over-refusal",
            "corrected over-refusal [95%]", "mean tokens", "tokens/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        over = "—" if r.get("over_refusal_n") is None else \
            f"{pct(r['over_refusal'])} ({r['over_refusal_count']}/{r['over_refusal_n']})"
        lines.append("| " + " | ".join([
            str(r["model"]), str(r["attack"]), str(r["benchmark"]), str(r["n"]), str(r["successes"]),
            pct(r["asr"]), ci(r["ci95"]), corrected(r.get("asr_corrected")), over,
            corrected(r.get("over_refusal_corrected")), _num(r.get("mean_response_tokens")), _num(r.get("tokens_per_s")),
        ]) + " |")
    return "\n".join(lines)


def over_refusal_table(over: dict[str, dict], benign_name: str) -> str:
    lines = ["| model | benign set | refused | over-refusal | 95% CI | corrected [95%] |", "|---|---|---|---|---|---|"]
    for m, o in over.items():
        lines.append(f"| {m} | {benign_name} | {o['count']}/{o['n']} | {pct(o['rate'])} | {ci(o['ci95'])} | "
                     f"{corrected(o.get('corrected'))} |")
    return "\n".join(lines)


def markdown_summary(summary: dict) -> str:
    b = summary["benchmark"]
    parts = [f"# saess eval: {b['name']} ({b['rows']} of {b['total']} prompts)", "",
             f"Judge: `{summary['judge']}`. ASR = prompts broken / prompts evaluated; a prompt is broken when "
             "any of its cases is judged jailbroken. CI: 95% Wilson interval.", ""]
    models = summary.get("models") or {}
    if models:
        desc = []
        for m, info in models.items():
            if info is None:
                desc.append(f"`{m}`: not run")
            elif info["reliance"] == "off":
                desc.append(f"`{m}`: plain LM (reliance off)")
            else:
                desc.append(f"`{m}`: reliance {info['reliance']}, schedule {info['schedule']}")
        parts += ["Models: " + "; ".join(desc) + ".", ""]
    parts += [results_table(summary["results"]), ""]
    if summary.get("over_refusal"):
        parts += [f"## Over-refusal (benign prompts, direct, greedy; refused per the judge `{summary['judge']}`)", "",
                  over_refusal_table(summary["over_refusal"], (summary.get("benign") or {}).get("name", "?")), ""]
    per_cfg = [r for r in summary["results"] if r.get("per_config")]
    if per_cfg:
        parts += ["## Per configuration (cases jailbroken / cases)", ""]
        for r in per_cfg:
            cells = ", ".join(f"{k}: {v['jailbroken']}/{v['cases']}" for k, v in r["per_config"].items())
            parts.append(f"- {r['model']} / {r['attack']}: {cells}")
        parts.append("")
    if summary.get("correction"):
        c = summary["correction"]
        acc = ", ".join(f"{k}: Se {v['sensitivity']:.3f}, Sp {v['specificity']:.3f}"
                        for k, v in (c.get("accuracy") or {}).items() if v)
        parts += [f"Corrected rates: {c['method']}; judge `{c['judge']}` ({acc}). See docs/judges.md.", ""]
    if summary.get("notes"):
        parts += ["## Notes", ""] + [f"- {n}" for n in summary["notes"]] + [""]
    return "\n".join(parts)
