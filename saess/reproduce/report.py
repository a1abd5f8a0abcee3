"""RESULTS.md and its figures from a reproduction folder (`saess reproduce`).

Everything here is read from the run folders' `summary.json`, `bench.json`,
`probe.json` and `state.json`; a step that did not run shows as "not run" with its
reason. The paper's numbers are those of docs/method.md section 7 (Llama2-7B).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from saess.reports.plots import plot_asr, pyplot
from saess.reproduce import plan as P

# The paper's numbers (docs/method.md section 7): (setting, Llama2-7B-Chat, Chat-Aug, CLS model), in %.
PAPER = {
    "advbench-prefill": ("AdvBench / prefill", 39.62, None, 0.4),
    "harmbench-gcg": ("HarmBench / GCG (100 behaviours)", 28.0, None, 0.0),
    "advbench-decoding": ("AdvBench / decoding-parameter attack", 87.0, None, 0.0),
    "advbench-autodan": ("AdvBench / AutoDAN", 61.3, None, 0.77),
    "advbench-pap": ("AdvBench / PAP", 28.26, None, 0.0),
    "prefill-5": ("prefill 5 tokens", 42.1, 2.8, 0.9),
    "prefill-40": ("prefill 40 tokens", 57.0, 4.5, 2.1),
    "decoding-hexphi": ("decoding (HEx-PHI)", 54.9, 11.3, 0.0),
}
VARIANT_COLS = [("direct", "direct"), ("prefill:target", "prefill (target)"), ("nested", "nested"),
                ("decoding", "decoding sweep")]


class Results:
    """Lookup of (run folder, model, attack) -> result dict over a reproduction folder."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.state = _read(self.out / "state.json") or {"steps": {}}
        self._cache: dict[str, dict | None] = {}

    def summary(self, key: str) -> dict | None:
        if key not in self._cache:
            self._cache[key] = _read(self.out / key / "summary.json")
        return self._cache[key]

    def get(self, key: str, attack: str, model: str | None = None) -> dict | None:
        s = self.summary(key)
        if not s:
            return None
        for r in s["results"]:
            if r["attack"] == attack and (model is None or r["model"] == model):
                return r
        return None

    def over(self, key: str) -> dict | None:
        s = self.summary(key)
        if not s or not s.get("over_refusal"):
            return None
        return next(iter(s["over_refusal"].values()))

    def why(self, key: str) -> str:
        st = self.state["steps"].get(key)
        if not st:
            return "not run"
        if st["status"] == "done":
            return "done"
        return f"{st['status']}: {st.get('note') or ''}".strip()


def _read(p: Path) -> dict | None:
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def pct(r: dict | None) -> str:
    if not r or not r.get("n"):
        return "–"
    lo, hi = r["ci95"]
    return f"{100 * r['asr']:.1f}% ({r['successes']}/{r['n']}) [{100 * lo:.0f}–{100 * hi:.0f}]"


def pct_over(o: dict | None) -> str:
    if not o or not o.get("n"):
        return "–"
    lo, hi = o["ci95"]
    return f"{100 * o['rate']:.1f}% ({o['count']}/{o['n']}) [{100 * lo:.0f}–{100 * hi:.0f}]"


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main_rows(res: Results) -> list[tuple[str, dict[str, dict | None]]]:
    """(row label, {model: result}) of the main table."""
    ms = P.MAIN_MODELS
    rows = []
    for attack, label in VARIANT_COLS[:2]:
        rows.append((f"AdvBench {label}", {m: res.get(f"v-{m}", attack) for m in ms}))
    tok = res.summary("tokens-base") or res.summary("tokens-default")
    counts = [int(r["attack"].split("-")[1]) for r in tok["results"]] if tok else []
    for n in counts:
        rows.append((f"AdvBench prefill {n} tokens of a harmful answer",
                     {m: res.get(f"tokens-{m}", f"prefill:tokens-{n}") for m in ms}))
    for attack, label in VARIANT_COLS[2:]:
        rows.append((f"AdvBench {label}", {m: res.get(f"v-{m}", attack) for m in ms}))
    rows.append(("AdvBench templates (AutoDAN, DAN, in-the-wild)", {m: res.get(f"extra-{m}", "template") for m in ms}))
    rows.append(("AdvBench PAP (persuasion framing)", {m: res.get(f"extra-{m}", "pap") for m in ms}))
    rows.append(("AdvBench GCG standard (suffix from the base LM)",
                 {m: res.get("gcg-standard", "direct", m) for m in ms}))
    rows.append(("AdvBench GCG adaptive (on default, head in the loss)",
                 {m: (res.get("gcg-adaptive", "direct", m) if m == "default" else None) for m in ms}))
    for attack, label in (("direct", "direct"), ("prefill:literal", 'prefill "Sure, here is"'),
                          ("nested", "nested")):
        rows.append((f"HarmBench {label}", {m: res.get(f"harmbench-{m}", attack) for m in ms}))
    return rows


def variant_table(res: Results, rows: list[tuple[str, str]], extra: dict | None = None) -> str:
    header = ["variant"] + [c for _, c in VARIANT_COLS] + ["over-refusal (benign edgy)"]
    if extra:
        header.insert(1, extra["header"])
    out = []
    for label, key in rows:
        k = f"v-{key}"
        if res.summary(k) is None:
            cells = [f"not run ({res.why(k)})"] + [""] * (len(header) - 2)
        else:
            cells = [pct(res.get(k, a)) for a, _ in VARIANT_COLS] + [pct_over(res.over(k))]
            if extra:
                cells.insert(0, extra["cell"](key))
        out.append([label, *cells])
    return _table(header, out)


def _fig(path: Path, figs: Path, results_md: Path) -> str:
    return os.path.relpath(figs / path, results_md.parent)


def figures(res: Results, figs: Path) -> dict[str, str]:
    """Write the PNG figures; returns {name: file} of those written."""
    figs.mkdir(parents=True, exist_ok=True)
    made = {}

    def bars(name: str, rows: list[tuple[str, dict | None]], bench: str) -> None:
        results = [{**r, "model": lab, "benchmark": bench} for lab, r in rows if r and r.get("n")]
        if results and plot_asr(results, figs / name, "keyword:gcg"):
            made[name] = name

    main = []
    for label, per in main_rows(res):
        for m, r in per.items():
            if r:
                main.append((m, {**r, "attack": label.replace("AdvBench ", "").replace(" of a harmful answer", "")}))
    bars("main.png", [(m, r) for m, r in main if "HarmBench" not in r["attack"]], "AdvBench subset")
    for fname, table in (("ablations.png", P.ABLATIONS), ("schedules.png", P.SCHEDULES)):
        rows = [(lab, res.get(f"v-{k}", a)) for lab, k in table for a, _ in VARIANT_COLS[1:]]
        bars(fname, rows, "AdvBench subset")
    hyper = [(f"{h}={lab.split()[0]}", res.get(f"v-{k}", a)) for h, rs in P.HYPER.items() for lab, k in rs
             for a, _ in VARIANT_COLS[1:3]]
    bars("hyper.png", hyper, "AdvBench subset")
    probe = _read(res.out / "probe.json")
    if probe:
        for m, d in probe["models"].items():
            name = f"probe_{m}.png"
            if plot_probe(d["attacks"], probe["top_k"], f"{m} (reliance {d['reliance']})", figs / name):
                made[name] = name
    return made


def plot_probe(attacks: dict, top_k: int, title: str, path: Path) -> bool:
    if not any(a["n"] for a in attacks.values()):
        return False
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, d in attacks.items():
        xs = [i for i, v in enumerate(d["entropy"]) if v is not None]
        a1.plot(xs, [d["entropy"][i] for i in xs], marker="o", ms=3, label=f"{name} (n={d['n']})")
        a2.plot(xs, [d["top_k_mass"][i] for i in xs], marker="o", ms=3, label=name)
    a1.set_xlabel("response step")
    a1.set_ylabel("entropy (nats)")
    a2.set_xlabel("response step")
    a2.set_ylabel(f"top-{top_k} probability mass")
    a2.set_ylim(0, 1.05)
    a1.legend(fontsize=7)
    fig.suptitle(f"Next-token distribution at the first response steps: {title}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def probe_table(probe: dict) -> str:
    k = probe["top_k"]
    rows = []
    for m, d in probe["models"].items():
        for a, s in d["attacks"].items():
            e = [v for v in s["entropy"] if v is not None]
            t = [v for v in s["top_k_mass"] if v is not None]
            rows.append([m, a, str(s["n"]), str(s["guided"]), str(s.get("refused", "–")), str(s.get("steps", "–")),
                         f"{e[0]:.2f}" if e else "–", f"{sum(e) / len(e):.2f}" if e else "–",
                         f"{t[0]:.2f}" if t else "–", f"{sum(t) / len(t):.2f}" if t else "–"])
    # a row stopped by the signal (reliance high) has no later steps: the means are over the steps measured
    return _table(["model", "attack", "n", "guide inserted", "refused (stopped by the signal)", "steps measured per row",
                   "entropy step 0", f"entropy mean (steps 0-{probe['steps'] - 1}, over the steps measured)",
                   f"top-{k} mass step 0", f"top-{k} mass mean"], rows)


def side_by_side(res: Results) -> str:
    rows = []

    def row(pkey, chat_ours, aug_ours, cls_ours, note):
        name, chat, aug, cls = PAPER[pkey]
        def f(v):
            return "–" if v is None else f"{v:g}%"

        rows.append([name, f(chat), pct(chat_ours), f(aug), pct(aug_ours) if aug is not None else "",
                     f(cls), pct(cls_ours), note])

    row("advbench-prefill", res.get("v-base", "prefill:target"), None, res.get("v-default", "prefill:target"),
        "ours: the row's target as prefill")
    row("harmbench-gcg", res.get("gcg-standard", "direct", "base"), None,
        res.get("gcg-adaptive", "direct", "default"),
        "ours: AdvBench rows, CPU budget; CLS column = adaptive GCG on default")
    row("advbench-decoding", res.get("v-base", "decoding"), None, res.get("v-default", "decoding"),
        "ours: small grid (8 configs) unless scale full")
    row("advbench-autodan", res.get("extra-base", "template"), None, res.get("extra-default", "template"),
        "ours: AutoDAN/DAN/in-the-wild templates held out from training")
    row("advbench-pap", res.get("extra-base", "pap"), None, res.get("extra-default", "pap"),
        "ours: framing templates (no attacker LLM)")
    row("prefill-5", res.get("tokens-base", "prefill:tokens-5"), res.get("tokens-aug", "prefill:tokens-5"),
        res.get("tokens-default", "prefill:tokens-5"), "ours: the base model's own complying answers")
    row("prefill-40", res.get("tokens-base", "prefill:tokens-40"), res.get("tokens-aug", "prefill:tokens-40"),
        res.get("tokens-default", "prefill:tokens-40"), "")
    row("decoding-hexphi", res.get("v-base", "decoding"), res.get("v-aug", "decoding"),
        res.get("v-default", "decoding"), "ours: AdvBench, not HEx-PHI (not packaged)")
    return _table(["setting", "paper Chat", "ours base", "paper Chat-Aug", "ours aug", "paper CLS", "ours default",
                   "note"], rows)


def write_results(out: Path, results_md: Path, figs: Path, discussion: Path | None = None) -> Path:
    """Write RESULTS.md (and figures, and a JSON of the tables) from the folder `out`."""
    res = Results(out)
    results_md = Path(results_md)
    figs = Path(figs)
    made = figures(res, figs)
    st = res.state
    machine = st.get("machine", {})
    md = ["# Reproduction of Li & Kim (ICML 2025) at small scale", ""]
    md += [f"Generated by `saess reproduce` at scale **{st.get('scale')}** from `{out}` "
           f"(created {st.get('created')}). Machine: {machine.get('cpu') or machine.get('platform')}, "
           f"{machine.get('cpu_count')} CPUs, GPU: {machine.get('cuda') or 'none'}; torch {machine.get('torch')}, "
           f"transformers {machine.get('transformers')}.", ""]
    md += ["Every cell: attack success rate (keyword judge, GCG list; empty output is not a success), "
           "successes/prompts, Wilson 95% interval in brackets. A prompt counts as broken if any of its cases "
           "(decoding configs, nested variants, templates, persuasion techniques) is judged jailbroken. "
           "Over-refusal: benign edgy prompts (held out from training) answered with a refusal.", ""]
    if discussion and discussion.exists():
        md += [discussion.read_text().strip(), ""]

    md += ["## 1. Main table", ""]
    md.append(_table(["attack"] + P.MAIN_MODELS,
                     [[lab] + [pct(per[m]) for m in P.MAIN_MODELS] for lab, per in main_rows(res)]))
    md.append("")
    md.append(_table(["over-refusal"] + P.MAIN_MODELS,
                     [["benign edgy prompts"] + [pct_over(res.over(f"v-{m}")) for m in P.MAIN_MODELS]]))
    md.append("")
    if "main.png" in made:
        md += [f"![main]({_fig(Path('main.png'), figs, results_md)})", ""]

    md += ["## 2. Ablations", "", variant_table(res, P.ABLATIONS), ""]
    if "ablations.png" in made:
        md += [f"![ablations]({_fig(Path('ablations.png'), figs, results_md)})", ""]

    bench = _read(out / "bench.json")

    def cost(key):
        if not bench:
            return "–"
        s = {"default": "annealing"}.get(key, key)
        r = next((r for r in bench["runs"] if r["schedule"] == s), None)
        return f"{r['ratio']:.3f}x" if r else "–"

    md += ["## 3. Re-classification schedules", "",
           variant_table(res, P.SCHEDULES, {"header": "time / plain generate (batch 8)", "cell": cost}), ""]
    if bench:
        md += [f"Cost: `saess bench`-style timing, {bench['new_tokens']} new tokens, batch 8, minimum of "
               f"{bench['repeats']} rounds, device {bench['device']}, load average {bench['load_average']}.", ""]
    if "schedules.png" in made:
        md += [f"![schedules]({_fig(Path('schedules.png'), figs, results_md)})", ""]

    md += ["## 4. Probe study", ""]
    probe = _read(out / "probe.json")
    if probe:
        md += [f"Greedy generation on {probe['rows']} AdvBench rows; next-token entropy and top-{probe['top_k']} "
               f"probability mass at the first {probe['steps']} response steps (see `saess/reproduce/probe.py`); "
               "each model runs with its own strategic config, and a row that the signal stops (reliance high: the "
               "fixed refusal) has no steps after that one, so its means are over the steps it has.",
               "", probe_table(probe), ""]
        for m in probe["models"]:
            if f"probe_{m}.png" in made:
                md += [f"![probe {m}]({_fig(Path(f'probe_{m}.png'), figs, results_md)})", ""]
    else:
        md += [f"Not run ({res.why('probe')}).", ""]

    md += ["## 5. Hyperparameters", ""]
    for h, rows in P.HYPER.items():
        md += [f"### {h}", "", variant_table(res, [(f"{h} = {lab}", k) for lab, k in rows]), ""]
    if "hyper.png" in made:
        md += [f"![hyperparameters]({_fig(Path('hyper.png'), figs, results_md)})", ""]

    md += ["## 6. Side by side with the paper", "",
           "Paper: Llama2-7B (Chat = RLHF chat model, Chat-Aug = Qi et al.'s augmentation, CLS = the method); "
           "ours: SmolLM2-135M-Instruct (base = the instruct model as shipped, aug, default = CLS).", "",
           side_by_side(res), ""]

    md += ["## Steps, commands and times", ""]
    for inv in st.get("invocations", []):
        md.append(f"- {inv['at']}: `{' '.join(inv['argv'])}`")
    if st.get("invocations"):
        md.append("")
    rows = []
    for k, s in st.get("steps", {}).items():
        rows.append([k, s["status"], f"{s['seconds']:.0f}", (s.get("note") or "").replace("|", "/"),
                     f"`{s['command']}`" if s.get("command") else ""])
    md += [_table(["step", "status", "seconds", "note", "command"], rows), ""]
    for name, t in st.get("trained", {}).items():
        md += [f"- trained `{name}` ({t['budget']} budget) in {t['seconds']:.0f} s into `{t['path']}`"]
    results_md.parent.mkdir(parents=True, exist_ok=True)
    results_md.write_text("\n".join(md) + "\n", encoding="utf-8")
    return results_md
