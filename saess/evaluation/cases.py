"""Attack cases of an evaluation run and how they are batched for the generator.

- `build_cases`: the rows through each attack (`saess.attacks`); each prefill variant is
  its own attack label ("prefill:target", "prefill:tokens-10", ...); benign prompts get
  the direct attack, greedy, under the label "benign".
- `batches`: cases grouped by sampling config (the generator takes one config per call),
  sorted by length, cut into batches; identical greedy cases (such as `direct` and the
  decoding attack's `greedy` config) become one job, generated once and recorded under
  each label.
"""

from __future__ import annotations

from saess.attacks import AttackCase, get_attack
from saess.evaluation.benchmarks import RowSet
from saess.evaluation.config import BENIGN_ATTACK, EvalConfig
from saess.generation.batching import SLACK, length_batches
from saess.generation.config import SamplingConfig


def default_prefill_variants(rows: list[dict]) -> list[str]:
    return ["target"] if all(r.get("target") for r in rows) else ["literal"]


def build_cases(cfg: EvalConfig, rows: RowSet, benign: RowSet | None, tokenizer=None,
                ) -> tuple[list[tuple[str, AttackCase]], dict[str, dict]]:
    """((attack label, case) in run order, skipped counts per label)."""
    kw = {} if cfg.max_new_tokens is None else {"max_new_tokens": cfg.max_new_tokens}
    out: list[tuple[str, AttackCase]] = []
    skipped: dict[str, dict] = {}

    def add(label, cases):
        out.extend((label, c) for c in cases)
        if cases.skipped:
            skipped[label] = dict(cases.skipped)

    for name in cfg.attacks:
        fn = get_attack(name)
        if name == "prefill":
            for v in cfg.prefill_variants or default_prefill_variants(rows.rows):
                tok = tokenizer if v.startswith("tokens-") else None
                if v.startswith("tokens-") and tok is None:
                    continue  # counted per model, once its tokenizer is known
                add(f"prefill:{v}", fn(rows.rows, variants=[v], tokenizer=tok, **kw))
        elif name == "decoding":
            add(name, fn(rows.rows, grid=cfg.grid, seed=cfg.seed, **kw))
        elif name == "template":
            add(name, fn(rows.rows, max_templates=cfg.max_templates, seed=cfg.seed, **kw))
        else:
            add(name, fn(rows.rows, **kw))
    if benign is not None:
        add(BENIGN_ATTACK, get_attack("direct")(benign.rows, **kw))
    return out, skipped


def attack_labels(cfg: EvalConfig, rows: RowSet) -> list[str]:
    labels = []
    for name in cfg.attacks:
        if name == "prefill":
            labels += [f"prefill:{v}" for v in cfg.prefill_variants or default_prefill_variants(rows.rows)]
        else:
            labels.append(name)
    return labels


def sampling_for(case: AttackCase, seed: int) -> SamplingConfig:
    g = case.gen_kwargs
    return SamplingConfig(max_new_tokens=int(g["max_new_tokens"]), do_sample=bool(g["do_sample"]),
                          temperature=g.get("temperature") or 1.0, top_p=g.get("top_p") or 1.0,
                          top_k=g.get("top_k") or 0, seed=seed)


def _group_key(case: AttackCase) -> tuple:
    g = case.gen_kwargs
    return (bool(g["do_sample"]), g.get("temperature"), g.get("top_p"), g.get("top_k"), int(g["max_new_tokens"]))


def batches(items: list[tuple[str, AttackCase]], batch_size: int) -> list[list[list[tuple[str, AttackCase]]]]:
    """Jobs grouped by sampling config (first-seen order), batched by length (`length_batches`).

    A job is a list of (label, case) that share one generation: greedy cases with the same
    prompt, prefill and budget (e.g. `direct` and the decoding attack's `greedy` config)
    are generated once. Sampling cases are never merged.
    """
    groups: dict[tuple, dict] = {}
    for it in items:
        c = it[1]
        gk = _group_key(c)
        jk = (c.prompt, c.prefill) if not gk[0] else (c.case_id, it[0])
        groups.setdefault(gk, {}).setdefault(jk, []).append(it)
    out = []
    for jobs in groups.values():
        js = list(jobs.values())
        # lengths in characters (about 4 per token): a long prompt does not pad the short ones
        lengths = [len(job[0][1].prompt) + len(job[0][1].prefill or "") for job in js]
        out += [[js[i] for i in b] for b in length_batches(lengths, batch_size, slack=4 * SLACK)]
    return out
