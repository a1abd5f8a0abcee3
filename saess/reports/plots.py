"""PNG plots of an evaluation run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported on first use: the backend is chosen first)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_asr(results: list[dict], path: str | Path, judge: str) -> bool:
    """Grouped bars: ASR (%) per attack, one bar per model, with 95% interval bars; `judge` names
    the judge (or judges) the rates come from, for the title."""
    rows = [r for r in results if r["n"]]
    if not rows:
        return False
    plt = pyplot()
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(min(16.0, max(5.0, 0.35 * len(attacks) * max(1, len(models)) + 2)), 4.5))
    for j, m in enumerate(models):
        xs, ys, lo, hi, ks = [], [], [], [], []
        for i, a in enumerate(attacks):
            r = next((r for r in rows if r["model"] == m and r["attack"] == a), None)
            if r is None:
                continue
            xs.append(i + (j - (len(models) - 1) / 2) * width)
            ys.append(100 * r["asr"])
            lo.append(100 * (r["asr"] - r["ci95"][0]))
            hi.append(100 * (r["ci95"][1] - r["asr"]))
            ks.append((r["successes"], r["n"]))
        bars = ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=m)
        ax.bar_label(bars, labels=[f"{k}/{n}" for k, n in ks], fontsize=7, padding=2)
    ax.set_xticks(range(len(attacks)))
    ax.set_xticklabels(attacks, rotation=20, ha="right")
    ax.set_ylabel("attack success rate (%)")
    ax.set_ylim(0, 110)
    ax.set_title(f"ASR on {rows[0]['benchmark']} (judge {judge}, 95% Wilson CI)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_over_refusal(over: dict[str, dict], path: str | Path) -> bool:
    items = [(m, o) for m, o in over.items() if o["n"]]
    if not items:
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(3.5, 1.2 * len(items) + 1.5), 3.5))
    ys = [100 * o["rate"] for _, o in items]
    lo = [100 * (o["rate"] - o["ci95"][0]) for _, o in items]
    hi = [100 * (o["ci95"][1] - o["rate"]) for _, o in items]
    ax.bar(range(len(items)), ys, 0.6, yerr=[lo, hi], capsize=3, color="tab:orange")
    ax.set_xticks(range(len(items)))
    ax.set_xticklabels([m for m, _ in items])
    ax.set_ylabel("benign prompts refused (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Over-refusal (95% Wilson CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def choose_trace_samples(records: list[dict], k: int = 4) -> list[dict]:
    """A few samples whose safety trace is worth plotting.

    Preference: samples generated with the signal on (reliance != off) and more than one
    evaluation, one per (model, attack), those where the guide text was inserted first;
    then signal-on samples with only the query evaluated; then any sample with a trace.
    """
    ok = [r for r in records if not r.get("error") and r.get("trace")]

    def rank(r):
        tr = r["trace"]
        guided = any("inserted_guide_at" in t for t in tr)
        return (r.get("reliance") == "off", len(tr) < 2, not guided, r["attack"] == "benign", r["key"])

    chosen, seen = [], set()
    for r in sorted(ok, key=rank):
        if (r["model"], r["attack"]) in seen:
            continue
        seen.add((r["model"], r["attack"]))
        chosen.append(r)
        if len(chosen) >= k:
            break
    return chosen


def plot_traces(samples: list[dict], path: str | Path) -> bool:
    """p_malicious at each re-evaluation (x: generated tokens; 0 = the query); guide insertions marked."""
    if not samples:
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in samples:
        tr = r["trace"]
        xs = [t["step"] for t in tr]
        ys = [t["p_malicious"] for t in tr]
        label = f"{r['model']} / {r['attack']} / row {r['row_id']}"
        if r.get("reliance") == "off":
            label += " (signal off)"
        line = ax.plot(xs, ys, marker="o", ms=3, label=label)[0]
        for t in tr:
            if "inserted_guide_at" in t:
                ax.axvline(t["step"], color=line.get_color(), ls=":", lw=1)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("generated tokens (0: the query)")
    ax.set_ylabel("p_malicious")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Safety signal along the response (dotted: guide text inserted)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
