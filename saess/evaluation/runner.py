"""The evaluation runner: rows -> attack cases -> generations -> verdicts -> sample records.

One run = one benchmark (or prompt file), one or more models, one or more attacks, and
optionally a benign set for over-refusal. For each model (loaded one at a time):

1. build the attack cases from the rows (`saess.attacks`); each prefill variant is its
   own attack label ("prefill:target", "prefill:tokens-10", ...); benign prompts get the
   direct attack, greedy, under the label "benign";
2. drop the cases already in `samples.jsonl` (resume);
3. group the rest by sampling config (the generator takes one config per call), sort by
   length, and generate in batches (identical greedy cases, such as `direct` and the
   decoding attack's `greedy` config, are generated once and recorded under each label); a failing batch is retried one case at a time and
   a case that still fails is recorded with its `error`;
4. judge each response with the keyword judge (the prefill removed first) and, with
   `judge_model`, also with a local guard model (`saess.judges.ModelJudge`): a case is
   then jailbroken only when both say so (no refusal keyword *and* judged unsafe, the
   paper's keyword-then-classifier protocol); each judge's verdict is kept; append the
   records after each batch.

Which safety signal a model is generated with: a model whose config says
`extra["signal"] is True` (a trained `[CLS]` model such as `default`) uses the strategic
config of the run (`reliance`/`schedule`, default medium/annealing). Everything else —
`base` (untrained head), the baselines `sft`/`aug` (`signal: false`) and plain
transformers models — is generated with `reliance="off"`: the plain language model.
The model's own head never judges it.

Sampling seeds: the generator seeds one RNG per call, so per-case seeds cannot be
honoured inside a batch. A sampling batch is seeded from the run seed and the ids of the
cases in it (recorded in each sample's `sampling.seed`): a rerun with the same pending
cases and batch size draws the same samples.
"""

from __future__ import annotations

import gc
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from saess.attacks import AttackCase, case_seed, get_attack
from saess.errors import InputError, SaessError
from saess.evaluation.benchmarks import RowSet, load_benchmark, load_benign
from saess.evaluation.metrics import aggregate
from saess.evaluation.store import RunFolder, sample_key, write_json_atomic

logger = logging.getLogger("saess")

BENIGN_ATTACK = "benign"
_VARIANT_RE = re.compile(r"^(literal|target|tokens-[1-9]\d*)$")
GRIDS = ("small", "full")


@dataclass
class EvalConfig:
    """Everything that defines an evaluation run. Fields in `IDENTITY` decide whether an
    existing `--out` folder holds the same run (the others only change speed or place)."""

    models: list[str]
    attacks: list[str]
    benchmark: str | None = None
    prompts: str | None = None
    prefill_variants: list[str] | None = None  # None: target if every row has one, else literal
    grid: str = "small"
    limit: int | None = None
    benign: str | None = None  # "edgy", a file, or None
    benign_limit: int | None = None
    max_new_tokens: int | None = None  # None: each attack's own default
    max_templates: int = 5
    reliance: str = "medium"
    schedule: str = "annealing"
    tau: int | None = None  # None: the generator's default
    window: int | None = None  # r1 = r2 = r3 = window; None: the generator's defaults
    threshold: float | None = None  # P(malicious) decision threshold; None: each model's own (saess_config)
    seed: int = 0
    keywords: str = "gcg"
    judge_model: str | None = None  # a local causal LM folder used as a guard judge
    dtype: str = "float32"
    batch_size: int = 8
    device: str | None = None
    quiet: bool = False

    IDENTITY = ("models", "attacks", "benchmark", "prompts", "prefill_variants", "grid", "limit", "benign",
                "benign_limit", "max_new_tokens", "max_templates", "reliance", "schedule", "tau", "window", "threshold",
                "seed", "keywords", "judge_model", "dtype")

    def validate(self) -> None:
        if not self.models:
            raise InputError("no --model given")
        if len(set(self.models)) != len(self.models):
            raise InputError("a --model is given twice")
        if not self.attacks:
            raise InputError("no --attack given")
        for a in self.attacks:
            get_attack(a)  # unknown names: InputError listing the valid ones
        if len(set(self.attacks)) != len(self.attacks):
            raise InputError("an --attack is given twice")
        for v in self.prefill_variants or []:
            if not _VARIANT_RE.match(v):
                raise InputError(f"unknown prefill variant {v!r}; valid: literal, target, tokens-N (N > 0)")
        if self.prefill_variants is not None and not self.prefill_variants:
            raise InputError("--prefill-variants needs at least one variant")
        if self.grid not in GRIDS:
            raise InputError(f"unknown decoding grid {self.grid!r}; valid: {', '.join(GRIDS)}")
        for name in ("limit", "benign_limit", "max_new_tokens", "max_templates", "batch_size"):
            v = getattr(self, name)
            if v is not None and v < 1:
                flag = "--" + name.replace("_", "-")
                raise InputError(f"{flag} must be >= 1, got {v}")
        self.strategic()  # validates the names and values
        from saess.judges import keyword_list

        keyword_list(self.keywords)

    def strategic(self):
        """The strategic config for models with a trained signal."""
        from saess.generation.config import StrategicConfig

        kw = {} if self.tau is None else {"tau": self.tau}
        if self.window is not None:
            kw.update(r1=self.window, r2=self.window, r3=self.window)
        return StrategicConfig(reliance=self.reliance, schedule=self.schedule, threshold=self.threshold, **kw)

    def identity(self, rows: RowSet, benign: RowSet | None) -> dict:
        d = {k: getattr(self, k) for k in self.IDENTITY}
        d["prompts_sha256"] = rows.source.get("sha256")
        d["benign_sha256"] = benign.source.get("sha256") if benign else None
        d["model_fingerprints"] = {m: model_fingerprint(m) for m in self.models}
        return d


def eval_command(cfg: EvalConfig, out) -> str:
    """The `saess eval` command line equivalent to an EvalConfig (for the record)."""
    parts = ["saess eval"]
    for m in cfg.models:
        parts += ["--model", m]
    parts += ["--benchmark", cfg.benchmark] if cfg.benchmark else ["--prompts", str(cfg.prompts)]
    for a in cfg.attacks:
        parts += ["--attack", a]
    if cfg.prefill_variants and "prefill" in cfg.attacks:
        parts += ["--prefill-variants", *cfg.prefill_variants]
    if "decoding" in cfg.attacks:
        parts += ["--grid", cfg.grid]
    if "template" in cfg.attacks:
        parts += ["--max-templates", str(cfg.max_templates)]
    for flag, v in (("--limit", cfg.limit), ("--max-new-tokens", cfg.max_new_tokens), ("--tau", cfg.tau),
                    ("--window", cfg.window), ("--threshold", cfg.threshold)):
        if v is not None:
            parts += [flag, str(v)]
    parts += ["--benign", cfg.benign or "none"]
    if cfg.benign and cfg.benign_limit:
        parts += ["--benign-limit", str(cfg.benign_limit)]
    if cfg.reliance != "medium":
        parts += ["--reliance", cfg.reliance]
    if cfg.schedule != "annealing":
        parts += ["--schedule", cfg.schedule]
    for flag, v, default in (("--keywords", cfg.keywords, "gcg"), ("--seed", cfg.seed, 0),
                             ("--judge-model", cfg.judge_model, None), ("--dtype", cfg.dtype, "float32")):
        if v != default:
            parts += [flag, str(v)]
    parts += ["--out", str(out)]
    return " ".join(parts)


# --- models ----------------------------------------------------------------------------
def check_model(name: str) -> None:
    """Fail fast (before any generation) for a trained name that is not installed or an unknown name."""
    from saess.model import loading

    if name in loading.TRAINED_NAMES:
        from saess.model.safety_model import CONFIG_NAME

        if not (loading.artifact_dir(name) / CONFIG_NAME).exists():
            loading.load_safety_model(name)  # raises its ModelError (nothing is loaded)
    elif name not in loading.MODEL_NAMES and "/" not in name and not Path(name).expanduser().exists():
        loading.load_safety_model(name)  # raises "unknown model ..."


def model_fingerprint(name: str) -> str | None:
    """sha256 of a saved saess model's config file (it changes when the model is retrained), else None."""
    import hashlib

    from saess.model import loading
    from saess.model.safety_model import CONFIG_NAME

    folder = loading.artifact_dir(name) if name in loading.TRAINED_NAMES else Path(name).expanduser()
    f = folder / CONFIG_NAME
    try:
        return hashlib.sha256(f.read_bytes()).hexdigest()[:16] if f.is_file() else None
    except OSError:
        return None


def load_model(name: str, dtype: str = "float32", device: str | None = None):
    """The model under test (tests monkeypatch this)."""
    from saess.cli import _device, _dtype
    from saess.model.loading import load_safety_model

    return load_safety_model(name, dtype=_dtype(dtype), device=_device(device))


def strategic_for(name: str, model, cfg: EvalConfig):
    """The strategic config a model is generated with (see the module doc)."""
    from saess.generation.config import StrategicConfig

    extra = getattr(model.config, "extra", None) or {}
    if name == "base" or extra.get("signal") is not True or cfg.reliance == "off":
        return StrategicConfig(reliance="off")
    return cfg.strategic().for_model(model)


# --- cases -----------------------------------------------------------------------------
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


def sampling_for(case: AttackCase, seed: int):
    from saess.generation.config import SamplingConfig

    g = case.gen_kwargs
    return SamplingConfig(max_new_tokens=int(g["max_new_tokens"]), do_sample=bool(g["do_sample"]),
                          temperature=g.get("temperature") or 1.0, top_p=g.get("top_p") or 1.0,
                          top_k=g.get("top_k") or 0, seed=seed)


def _group_key(case: AttackCase) -> tuple:
    g = case.gen_kwargs
    return (bool(g["do_sample"]), g.get("temperature"), g.get("top_p"), g.get("top_k"), int(g["max_new_tokens"]))


def batches(items: list[tuple[str, AttackCase]], batch_size: int) -> list[list[list[tuple[str, AttackCase]]]]:
    """Jobs grouped by sampling config (first-seen order), sorted by length, cut into batches.

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
        js = sorted(jobs.values(), key=lambda job: len(job[0][1].prompt) + len(job[0][1].prefill or ""))
        out += [js[i:i + batch_size] for i in range(0, len(js), batch_size)]
    return out


# --- generation ------------------------------------------------------------------------
def _error_text(e: Exception) -> str:
    return str(e) if isinstance(e, SaessError) else f"{type(e).__name__}: {e}"


def generate_batch(gen, batch: list[AttackCase], seed: int) -> list[tuple[object | None, str | None, float]]:
    """(result, error, seconds) per case; one call for the batch, one by one if it fails."""
    sp = sampling_for(batch[0], seed)
    t0 = time.perf_counter()
    try:
        res = gen.generate([c.prompt for c in batch], [c.prefill for c in batch], sp)
    except Exception as e:  # noqa: BLE001 - retried one by one below, then reported per case
        if len(batch) > 1:
            logger.info("a batch of %d failed (%s); retrying one by one", len(batch), _error_text(e))
        out = []
        for c in batch:
            t1 = time.perf_counter()
            try:
                r = gen.generate([c.prompt], [c.prefill], sp)[0]
            except Exception as e1:  # noqa: BLE001
                out.append((None, _error_text(e1), time.perf_counter() - t1))
            else:
                out.append((r, None, time.perf_counter() - t1))
        return out
    dt = (time.perf_counter() - t0) / len(batch)
    return [(r, None, dt) for r in res]


def make_record(model: str, benchmark: str, label: str, case: AttackCase, strategic, seed: int | None,
                result, error: str | None, seconds: float, judges: list) -> dict:
    """One sample record; jailbroken when every judge says so (the first one fills `refused`)."""
    sp = sampling_for(case, seed or 0)
    rec = {
        "key": sample_key(model, label, case.case_id),
        "model": model,
        "benchmark": benchmark,
        "attack": label,
        "case_id": case.case_id,
        "row_id": case.row_id,
        "config_name": case.config_name,
        "prompt": case.prompt,
        "source_prompt": case.source_prompt,
        "prefill": case.prefill,
        "sampling": {"do_sample": sp.do_sample, "temperature": sp.temperature, "top_p": sp.top_p,
                     "top_k": sp.top_k, "max_new_tokens": sp.max_new_tokens, "seed": seed},
        "reliance": strategic.reliance,
        "schedule": strategic.schedule if strategic.reliance != "off" else None,
        "threshold": strategic.threshold if strategic.reliance != "off" else None,
        "gen_seconds": round(seconds, 4),
    }
    if error is not None:
        rec.update({"error": error, "response": None, "jailbroken": False, "refused": False, "verdicts": {}})
        return rec
    vs = [j.judge(case.prompt, result.response, ignore_prefix=case.prefill) for j in judges]
    v = vs[0]
    rec.update({
        "response": result.response,
        "generated": result.generated,
        "num_tokens": result.num_tokens,
        "finish_reason": result.finish_reason,
        "p_malicious_query": round(float(result.p_malicious_query), 6),
        "trace": result.trace,
        "jailbroken": all(x.jailbroken for x in vs),
        "refused": v.refused,
        "verdicts": {x.judge: x.to_dict() for x in vs},
        "error": None,
    })
    return rec


# --- the run ---------------------------------------------------------------------------
@dataclass
class RunResult:
    out: Path
    summary: dict
    generated: int  # samples generated by this invocation
    reused: int  # samples found in samples.jsonl
    markdown: str = ""
    files: list[str] = field(default_factory=list)


def run_eval(cfg: EvalConfig, out: str | Path, progress: Callable | None = None) -> RunResult:
    """Run (or resume) an evaluation into the folder `out`; write the summary and the report."""
    from saess.generation.engine import SafeGenerator
    from saess.judges import KeywordJudge

    cfg.validate()
    rows = load_benchmark(cfg.benchmark, cfg.prompts, cfg.limit)
    benign = load_benign(cfg.benign, cfg.benign_limit)
    folder = RunFolder(out)
    identity = cfg.identity(rows, benign)
    # Build the tokenizer-independent cases once: this validates the attacks' options
    # before anything is written or loaded.
    build_cases(cfg, rows, benign)
    for m in cfg.models:
        check_model(m)
    judges = [KeywordJudge(cfg.keywords)]
    if cfg.judge_model:
        from saess.cli import _device
        from saess.judges import ModelJudge

        judges.append(ModelJudge.from_pretrained(cfg.judge_model, device=_device(cfg.device)))
    folder.open(identity, {"saess_eval": 1, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                           "benchmark": {"name": rows.name, "total": rows.total, "rows": len(rows.rows),
                                         "source": rows.source, "notes": rows.notes},
                           "benign": ({"name": benign.name, "total": benign.total, "rows": len(benign.rows),
                                       "source": benign.source} if benign else None),
                           "batch_size": cfg.batch_size, "device": cfg.device})
    done = {r["key"]: r for r in folder.read_samples()}
    reused = len(done)
    generated = 0
    skipped_all: dict[str, dict] = {}
    t_start = time.time()
    for mname in cfg.models:
        need_tok = "prefill" in cfg.attacks and any(v.startswith("tokens-") for v in cfg.prefill_variants or [])
        model = None
        if need_tok:
            model = load_model(mname, cfg.dtype, cfg.device)
        cases, skipped = build_cases(cfg, rows, benign, tokenizer=model.tokenizer if model is not None else None)
        skipped_all[mname] = skipped
        pending = [(lab, c) for lab, c in cases if sample_key(mname, lab, c.case_id) not in done]
        if not pending:
            logger.info("%s: all %d samples already in %s", mname, len(cases), folder.samples_path)
            continue
        if model is None:
            t0 = time.time()
            model = load_model(mname, cfg.dtype, cfg.device)
            logger.info("%s: loaded in %.1f s", mname, time.time() - t0)
        strategic = strategic_for(mname, model, cfg)
        logger.info("%s: %d samples to generate (%d already done); reliance %s%s", mname, len(pending),
                    len(cases) - len(pending), strategic.reliance,
                    f", schedule {strategic.schedule}" if strategic.reliance != "off" else "")
        gen = SafeGenerator(model, strategic)
        bar = _bar(len(pending), f"eval {mname}", cfg.quiet)
        failed = 0
        try:
            for batch in batches(pending, cfg.batch_size):
                bcases = [job[0][1] for job in batch]
                seed = case_seed(cfg.seed, *[c.case_id for c in bcases]) if bcases[0].gen_kwargs["do_sample"] \
                    else None
                outs = generate_batch(gen, bcases, seed or 0)
                recs = [make_record(mname, rows.name, lab, c, strategic, seed, r, err, secs, judges)
                        for job, (r, err, secs) in zip(batch, outs, strict=True) for lab, c in job]
                for rec in recs:
                    if rec["error"]:
                        failed += 1
                        if failed <= 5:
                            logger.warning("%s %s: %s", mname, rec["case_id"], rec["error"])
                folder.append(recs)
                for rec in recs:
                    done[rec["key"]] = rec
                generated += len(recs)
                bar.update(len(recs))
                if progress is not None:
                    progress(mname, len(recs))
        finally:
            bar.close()
        if failed:
            logger.warning("%s: %d of %d samples failed (records carry an 'error')", mname, failed, len(pending))
        del gen, model
        gc.collect()

    labels = attack_labels(cfg, rows)
    records = [r for r in done.values() if r["model"] in cfg.models]
    results, over = aggregate(records, cfg.models, labels, rows.name, benign_attack=BENIGN_ATTACK)
    summary = {
        "config": identity,
        "benchmark": {"name": rows.name, "total": rows.total, "rows": len(rows.rows), "source": rows.source},
        "benign": ({"name": benign.name, "total": benign.total, "rows": len(benign.rows)} if benign else None),
        "judge": " + ".join(j.name for j in judges),
        "models": _model_info(records, cfg.models),
        "results": results,
        "over_refusal": over,
        "skipped": skipped_all,
        "notes": _notes(cfg, rows, results, skipped_all),
        "samples": len(records),
        "generated_now": generated,
        "elapsed_s": round(time.time() - t_start, 1),
    }
    from saess.reports import write_reports

    write_json_atomic(folder.path / "summary.json", summary)
    md, files = write_reports(folder.path, summary, records)
    return RunResult(folder.path, summary, generated, reused, md, ["summary.json", *files])


def _bar(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, disable=quiet, dynamic_ncols=True)


def _model_info(records: list[dict], models: list[str]) -> dict:
    info = {}
    for m in models:
        r = next((r for r in records if r["model"] == m), None)
        info[m] = {"reliance": r["reliance"], "schedule": r["schedule"], "threshold": r.get("threshold")} if r else None
    return info


def _notes(cfg: EvalConfig, rows: RowSet, results: list[dict], skipped: dict) -> list[str]:
    notes = list(rows.notes)
    if len(rows.rows) < rows.total:
        notes.append(f"{rows.name}: {len(rows.rows)} of {rows.total} prompts, spread evenly (--limit {cfg.limit})")
    for m, sk in skipped.items():
        for label, why in sk.items():
            notes.append(f"{m} {label}: skipped " + ", ".join(f"{k} ({v})" for k, v in why.items()))
    for r in results:
        if r["n"] == 0:
            notes.append(f"{r['model']} {r['attack']}: no prompt could be evaluated")
        if r["errors"]:
            notes.append(f"{r['model']} {r['attack']}: {r['errors']} samples failed to generate")
    how = f"the keyword judge ({cfg.keywords} list, prefill removed before matching)"
    if cfg.judge_model:
        how += f" and the guard model {cfg.judge_model} (both must say jailbroken)"
    notes.append(f"A prompt counts as broken when any of its cases is judged jailbroken by {how}.")
    return notes


def config_dict(cfg: EvalConfig) -> dict:
    return asdict(cfg)
