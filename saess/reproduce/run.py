"""Run (or resume) the reproduction: the steps of `saess.reproduce.plan`, then the report.

Layout of `--out` (default `runs/reproduce`, `runs/reproduce-quick` with `--quick`):

- `state.json`: the scale, the machine, and per step its status (done / partial / failed /
  skipped, with the reason), its seconds and the command line that ran it; a partial step (GCG
  without nanoGCG: only its adaptive half) keeps what it made and is tried again by the next run;
- one `saess eval` run folder per evaluation step (`v-default/`, `tokens-sft/`, ...):
  resumable, each with its `samples.jsonl` and `summary.json`;
- `answers.jsonl` (the base model's complying answers, for the tokens-N prefill),
  `gcg/` (suffix cache) and `gcg-*.jsonl`, `bench.json`, `probe.json`;
- `models/` (quick only): ablation models trained on a token budget.

A trained ablation model is calibrated as `default` was before it is evaluated (a
`calibrated/` folder next to its `final/`; `saess calibrate`, section "Calibrating the decision
threshold" of docs/training.md): the query threshold at FPR 0.05 on the validation split, and the
window threshold per answer on the run's own base-model answers (`data/retain.jsonl`) when some of
them answer benign validation prompts.

A step already marked done is not run again; a failed step is retried on the next run;
one failing step does not stop the others. Nothing computed is lost: every evaluation
writes its samples as they are generated.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import transformers

from saess.attacks.gcg import gcg, import_nanogcg
from saess.errors import InputError, SaessError
from saess.evaluation.benchmarks import load_benchmark
from saess.evaluation.calibration import write_calibrated
from saess.evaluation.config import EvalConfig, eval_command
from saess.evaluation.runner import run_eval
from saess.evaluation.store import write_json_atomic
from saess.generation.bench import BenchConfig, run_bench
from saess.model.registry import ModelRegistry
from saess.reproduce import plan as P
from saess.reproduce.probe import run_probe
from saess.runtime import DEFAULT_DTYPE, resolve_device
from saess.training.pipeline import PipelineConfig, run_pipeline

logger = logging.getLogger("saess")


class Skip(Exception):  # noqa: N818 - a step that cannot run here, with the reason
    pass


class Partial(Exception):  # noqa: N818 - a step that ran in part: its command, and why the rest did not
    def __init__(self, command: str, note: str):
        super().__init__(note)
        self.command = command


@dataclass
class Sources:
    """Where the prompts come from (tests point these at small files)."""

    advbench: dict = field(default_factory=lambda: {"benchmark": "advbench"})
    harmbench: dict = field(default_factory=lambda: {"benchmark": "harmbench"})
    benign: str = "edgy"


# Recorded pipeline fields that do not change a model's weights (paths, logging, the validation report) or
# are compared apart (`lm_reads_cls`: the calibrated copy may set it; `phase1_from`: checked as its own model).
_NOT_COMPARED = {"phase1_from", "lm_reads_cls", "val_limit", "val_views_limit"}
_TRAIN_NOT_COMPARED = {"kv_store", "kv_memo", "checkpoint_every", "log_every"}
# Fields phase 1 never reads without --phase1-views (no windows, no harmful completions, no retain answers
# unless a phase 2 needs them), and the fields of the alignment phase (a shared phase 1 is compared without).
_VIEWS_ONLY = {"harmful_completions", "completion_max_new_tokens", "completion_prefills", "completion_bare_too",
               "window_max_start", "windows_per_answer"}
_RETAIN = {"retain_max_new_tokens", "retain_limit", "retain_shuffle", "retain_prefer", "answers_from"}
_PHASE2_ONLY = {"phase2_steps", "lam2", "mask_guide", "phase2_query_views", "phase2_head_lr", "aug_limit"}


def _recipe_differences(name: str | None, recorded: dict | None) -> list[str]:
    """The fields in which a trained model's recorded pipeline settings differ from this version's recipe
    (TRAIN_RECIPE + TRAINED[name] at full budget, every other field at PipelineConfig's default), as
    "field got (recipe: want)"; none when the model records no pipeline. A field the record predates counts
    as its default (new fields were added with defaults that keep the old behaviour). name None: a shared
    phase 1 (TRAIN_RECIPE alone, the alignment phase's fields not compared)."""
    if not recorded:
        return []
    kw = {k: v for k, v in {**P.TRAIN_RECIPE, **(P.TRAINED[name] if name else {})}.items() if k != "shared_phase1"}
    want = json.loads(json.dumps(PipelineConfig.from_flat(**kw).to_dict()))
    default = json.loads(json.dumps(PipelineConfig().to_dict()))
    got = {**default, **recorded, "train": {**default["train"], **(recorded.get("train") or {})}}
    skip = set(_NOT_COMPARED) | (_PHASE2_ONLY if name is None else set())
    if not want["phase1_views"]:
        skip |= _VIEWS_ONLY | (_RETAIN if not want["phase2_steps"] or name is None else set())
    if want["phase1_epochs"]:
        skip.add("phase1_steps")  # epochs decide phase 1's length

    def same(k, a, b):
        return sorted(a) == sorted(b) if k == "retain_prefer" and a and b else a == b

    out = [f"{k} {got[k]!r} (recipe: {w!r})" for k, w in want.items()
           if k != "train" and k not in skip and not same(k, got[k], w)]
    return out + [f"train.{t} {got['train'][t]!r} (recipe: {v!r})" for t, v in want["train"].items()
                  if t not in _TRAIN_NOT_COMPARED and got["train"][t] != v]


def _recorded_pipeline(model: Path) -> dict | None:
    cfg = model / "saess_config.json"
    return (json.loads(cfg.read_text()).get("extra") or {}).get("pipeline") if cfg.is_file() else None


def default_train(cfg: PipelineConfig, out: Path) -> Path:
    return run_pipeline(cfg, out)


MAX_FPR = 0.05  # the budget `default` was calibrated with (query and window thresholds)


def default_calibrate(model: Path, out: Path, window_answers: Path | None) -> dict:
    """`saess calibrate --max-fpr 0.05 [--window-answers A --window-max-fpr 0.05]` into `out`."""
    return write_calibrated(str(model), out, MAX_FPR, progress=False, window_answers=window_answers,
                            window_max_fpr=MAX_FPR)


@dataclass
class Reproduction:
    scale: P.Scale
    out: Path
    groups: tuple[str, ...] = P.GROUPS
    train_root: Path = Path("runs")
    allow_train: bool = True
    sources: Sources = field(default_factory=Sources)
    device: str | None = None
    dtype: str = DEFAULT_DTYPE
    batch_size: int = 8
    quiet: bool = False
    # where model names are resolved, and how a model is trained (tests pass tiny ones)
    registry: ModelRegistry = field(default_factory=ModelRegistry)
    train: Callable = default_train
    calibrate: Callable = default_calibrate
    state: dict = field(default_factory=dict)

    # --- state ---------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.out / "state.json"

    def load_state(self) -> None:
        if self.state_path.exists():
            try:
                self.state = json.loads(self.state_path.read_text())
            except json.JSONDecodeError as e:
                raise InputError(f"{self.state_path}: not valid JSON ({e.msg}); move it away to start over") from None
            if not isinstance(self.state, dict) or not isinstance(self.state.get("steps", {}), dict):
                raise InputError(f"{self.state_path}: field 'steps' must be an object mapping step names to their "
                                 "status (was the file edited by hand?); move it away to start over")
            if self.state.get("scale") != self.scale.name:
                raise InputError(f"{self.out} holds a reproduction at scale {self.state.get('scale')!r}, not "
                                 f"{self.scale.name!r}: use another --out")
        else:
            self.state = {"scale": self.scale.name, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "steps": {}}
        self.state["machine"] = machine_info()
        self.state.setdefault("invocations", []).append(
            {"at": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": ["saess", *sys.argv[1:]]})
        self.save_state()

    def save_state(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.state_path, self.state)

    def mark(self, key: str, status: str, seconds: float, note: str | None = None, command: str | None = None):
        self.state["steps"][key] = {"status": status, "seconds": round(seconds, 1), "note": note,
                                    "command": command, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self.save_state()

    # --- running -------------------------------------------------------------------------
    def run(self) -> dict:
        self.load_state()
        todo = P.steps(self.groups)
        for i, step in enumerate(todo, 1):
            st = self.state["steps"].get(step.key, {})
            if st.get("status") == "done":
                continue
            logger.info("reproduce [%d/%d] %s", i, len(todo), step.key)
            t0 = time.time()
            try:
                command = getattr(self, f"step_{step.kind}")(step)
            except Partial as e:
                self.mark(step.key, "partial", time.time() - t0, str(e), e.command)
                logger.warning("reproduce %s ran in part (a later run tries the rest): %s", step.key, e)
            except Skip as e:
                self.mark(step.key, "skipped", time.time() - t0, str(e))
                logger.warning("reproduce %s skipped: %s", step.key, e)
            except (SaessError, RuntimeError, OSError, ValueError) as e:
                msg = str(e) if isinstance(e, SaessError) else f"{type(e).__name__}: {e}"
                self.mark(step.key, "failed", time.time() - t0, msg)
                logger.error("reproduce %s failed: %s", step.key, msg)
                logger.debug("%s", traceback.format_exc())
            else:
                self.mark(step.key, "done", time.time() - t0, None, command)
        return self.state

    def eval(self, key: str, **kw) -> str:
        """One `saess eval` run into out/key; returns the equivalent command line."""
        s = self.scale
        base = dict(limit=s.limit, max_new_tokens=s.max_new_tokens, grid=s.grid, max_templates=s.max_templates,
                    dtype=self.dtype, device=self.device, batch_size=self.batch_size, quiet=self.quiet)
        base.update(kw)
        cfg = EvalConfig(**base)
        run_eval(cfg, self.out / key, registry=self.registry)
        return eval_command(cfg, self.out / key)

    def src(self, name: str) -> dict:
        return dict(getattr(self.sources, name))

    # --- models --------------------------------------------------------------------------
    def model_path(self, model: str) -> str:
        """A model name for `saess eval`; "@NAME" is a model this reproduction trains (and calibrates)."""
        if not model.startswith("@"):
            return model
        name = model[1:]
        full = self.train_root / f"train-{name}"
        if (full / "final" / "saess_config.json").exists():
            # a model left from an older recipe is not this ablation: its lm_reads_cls (changed with session
            # 12's default), its recorded pipeline settings and those of the phase 1 it was built on
            saved = json.loads((full / "final" / "saess_config.json").read_text())
            want = {**P.TRAIN_RECIPE, **P.TRAINED[name]}.get("lm_reads_cls", True)
            got = saved.get("lm_reads_cls", True)
            if got != want:
                raise Skip(f"{full / 'final'} generates with lm_reads_cls {got}, the recipe's {name!r} with {want} "
                           "(saess/reproduce/plan.py): an older recipe's model; retrain it or move it away")
            pipe = (saved.get("extra") or {}).get("pipeline") or {}
            differ = _recipe_differences(name, pipe)
            if pipe.get("phase1_from"):
                differ += [f"phase 1 {d}" for d in _recipe_differences(None, _recorded_pipeline(Path(pipe["phase1_from"])))]
            if differ:
                raise Skip(f"{full / 'final'} was trained with {', '.join(differ)} (saess/reproduce/plan.py): "
                           "an older recipe's model; retrain it or move it away")
            return self.calibrated(name, full)
        if not self.allow_train:
            raise Skip(f"needs the trained model {name!r} ({full / 'final'} does not exist; --no-train was given)")
        budget = self.scale.train_overrides
        root = (self.out / "models") if budget else self.train_root
        where = root / f"train-{name}"
        if not (where / "final" / "saess_config.json").exists():
            cfg = self.pipeline_config(name, root)
            logger.info("reproduce: training %r into %s%s", name, where, " (token budget)" if budget else "")
            t0 = time.time()
            final = self.train(cfg, where)
            self.state.setdefault("trained", {})[name] = {"path": str(final), "seconds": round(time.time() - t0, 1),
                                                          "config": cfg.to_dict(),
                                                          "budget": "token" if budget else "full"}
            self.save_state()
        return self.calibrated(name, where)

    def calibrated(self, name: str, run: Path) -> str:
        """`run/calibrated`, made from `run/final` once (a model whose config already records a
        calibration, e.g. a calibrated copy put there by hand, is used as it is)."""
        final, out = run / "final", run / "calibrated"
        if (out / "saess_config.json").exists():
            return str(out)
        if "calibration" in (json.loads((final / "saess_config.json").read_text()).get("extra") or {}):
            return str(final)
        answers = run / "data" / "retain.jsonl"
        answers = answers if answers.is_file() else None
        t0 = time.time()
        try:
            res = self.calibrate(final, out, answers)
        except InputError as e:
            if answers is None or "--window-answers" not in str(e):
                raise
            # none of the run's answers is to a benign validation prompt (a token budget's few): query only
            logger.info("reproduce: %s: window threshold not calibrated (%s)", name, e)
            answers, res = None, self.calibrate(final, out, None)
        self.state.setdefault("calibrated", {})[name] = {
            "path": str(out), "seconds": round(time.time() - t0, 1), "threshold": res["chosen"]["threshold"],
            "window_threshold": (res.get("windows") or {}).get("chosen", {}).get("threshold"),
            "window_answers": str(answers) if answers else None}
        self.save_state()
        return str(out)

    def pipeline_config(self, name: str, root: Path) -> PipelineConfig:
        spec = dict(P.TRAINED[name])
        shared = spec.pop("shared_phase1", False)
        kw = {**P.TRAIN_RECIPE, **spec}
        for k, v in self.scale.train_overrides.items():  # a token budget shrinks what the model has
            if k == "phase2_steps":
                kw[k] = v if kw.get(k) else 0
            elif k == "phase1_steps":
                kw.update(phase1_steps=v, phase1_epochs=None)
            else:
                kw[k] = v
        if shared:
            # the models that add only an alignment phase share the recipe's phase 1
            cands = [] if self.scale.train_overrides else [self.train_root / "train-default" / "phase1" / "final"]
            cands += [root / f"train-{n}" / "phase1" / "final" for n, sp in P.TRAINED.items()
                      if n != name and sp.get("shared_phase1")]
            got = next((c for c in cands if (c / "safety.safetensors").exists()
                        and not _recipe_differences(None, _recorded_pipeline(c))), None)
            if got is not None:
                kw["phase1_from"] = str(got)
        return PipelineConfig.from_flat(**kw)

    # --- steps ---------------------------------------------------------------------------
    def variant_config(self, key: str) -> dict:
        v = P.VARIANTS[key]
        return dict(models=[self.model_path(v.model)], attacks=list(P.VARIANT_ATTACKS), prefill_variants=["target"],
                    benign=self.sources.benign, benign_limit=self.scale.benign_limit, strategic=v.strategic(),
                    **self.src("advbench"))

    def step_variant(self, step: P.Step) -> str:
        return self.eval(step.key, **self.variant_config(step.variant))

    def step_extra(self, step: P.Step) -> str:
        return self.eval(step.key, models=[step.model], attacks=["template", "pap"], **self.src("advbench"))

    def step_harmbench(self, step: P.Step) -> str:
        return self.eval(step.key, models=[step.model], attacks=["direct", "prefill", "nested"],
                         prefill_variants=["literal"], **{"limit": self.scale.harmbench_limit, **self.src("harmbench")})

    def step_answers(self, step: P.Step) -> str:
        """The base model's greedy answers to the rows; the complying ones become `answers.jsonl`."""
        cmd = self.eval("answers", models=["base"], attacks=["direct"], max_new_tokens=self.scale.answer_tokens,
                        **self.src("advbench"))
        recs = [json.loads(x) for x in (self.out / "answers" / "samples.jsonl").read_text().splitlines() if x]
        rows = [{"prompt": r["prompt"], "harmful_answer": r["generated"], "source_row": r["row_id"]}
                for r in recs if r.get("jailbroken") and (r.get("generated") or "").strip()]
        if not rows:
            raise Skip("the base model refused every prompt: no harmful answers to prefill")
        with open(self.out / "answers.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        return cmd + f"  # then: complying answers -> {self.out / 'answers.jsonl'} ({len(rows)} rows)"

    def step_tokens(self, step: P.Step) -> str:
        f = self.out / "answers.jsonl"
        if not f.exists():
            raise Skip("no answers.jsonl (the answers step did not produce harmful answers)")
        return self.eval(step.key, models=[step.model], attacks=["prefill"], prompts=str(f), limit=None,
                         prefill_variants=[f"tokens-{n}" for n in self.scale.token_counts])

    def step_bench(self, step: P.Step) -> str:
        cfg = BenchConfig(model=step.model, dtype=self.dtype, device=self.device, new_tokens=self.scale.bench_tokens,
                          repeats=self.scale.bench_repeats, batch_sizes=[8], memory=False)
        rep = run_bench(cfg, registry=self.registry)
        write_json_atomic(self.out / "bench.json", rep)
        return (f"saess bench --model {step.model} --new-tokens {cfg.new_tokens} --batch-sizes 8 "
                f"--repeats {cfg.repeats} --no-memory --json")

    def step_probe(self, step: P.Step) -> str:
        rep = run_probe(self, ["base", "default"])
        write_json_atomic(self.out / "probe.json", rep)
        return "saess.reproduce.probe.run_probe (base, default; direct, prefill:target, nested mid-response)"

    def step_gcg(self, step: P.Step) -> str:
        """GCG suffixes: standard (nanoGCG on the base LM, transferred) and adaptive (on default, head in the loss)."""
        s = self.scale
        src = self.src("advbench")
        rows = load_benchmark(src.get("benchmark"), src.get("prompts"), s.limit).rows[: s.gcg_limit]
        over = {} if s.gcg_steps is None else {"num_steps": s.gcg_steps}
        cmds, notes = [], []
        for variant, attacker, victims in (("standard", "base", P.MAIN_MODELS), ("adaptive", "default", ["default"])):
            f = self.out / f"gcg-{variant}.jsonl"
            if not f.exists():
                if variant == "standard":
                    try:
                        import_nanogcg()  # before the model loads: a later run retries this half
                    except SaessError as e:
                        notes.append(f"{variant}: {e}")
                        continue
                model = self.registry.load(attacker, dtype=self.dtype, device=resolve_device(self.device))
                try:
                    cases = gcg(rows, model, variant=variant, preset=s.gcg_preset, cache_dir=self.out / "gcg", **over)
                except SaessError as e:
                    notes.append(f"{variant}: {e}")
                    continue
                finally:
                    del model
                tmp = f.with_suffix(".tmp")
                with open(tmp, "w") as fh:
                    for c in cases:
                        fh.write(json.dumps({"prompt": c.prompt, "target": c.meta["target"],
                                             "source_row": c.row_id, "gcg": {k: c.meta[k] for k in
                                                                             ("suffix", "loss", "steps",
                                                                              "seconds", "p_benign")}}) + "\n")
                os.replace(tmp, f)
            cmds.append(self.eval(f"gcg-{variant}", models=list(victims), attacks=["direct"], prompts=str(f),
                                  limit=None))
        if not cmds:
            raise Skip("; ".join(notes))
        if notes:
            raise Partial(" && ".join(cmds), "; ".join(notes))
        return " && ".join(cmds)


def machine_info() -> dict:
    info = {"platform": platform.platform(), "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "torch_threads": torch.get_num_threads(), "cuda": None}
    if torch.cuda.is_available():
        info["cuda"] = torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info

