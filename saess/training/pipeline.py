"""From packaged data to a trained model: the recipe, the retain set, both phases, baselines.

Variants (all trained on the same recipe with the same step budget per phase):
- "cls"  (the method): phase 1 (labelled text, lambda_1 = 0.01) then phase 2 (alignment,
  lambda_2 = 0.1), with `[CLS]` and the head.
- "sft"  (baseline): phase 2 only, without the safety signal: plain SFT on the same chats.
- "aug"  (baseline, Qi et al. 2024): "sft" plus, for malicious training prompts that come
  with a packaged harmful answer, examples whose assistant turn starts with the first N
  tokens of that answer (N drawn from 5..40, no loss on them) and then recovers into the
  refusal (loss on the refusal).
Benign prompts that ship without an answer are answered by the base model itself
(greedy), cached in `out/data/retain.jsonl`: the retain set that keeps its behaviour.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import shutil
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from tqdm import tqdm

from saess.data.parsers import read_jsonl_path
from saess.data.recipes import RecipeConfig, build_recipe, recipe_stats
from saess.data.refusals import GUIDE_TEXT, make_refusal
from saess.data.sources import BENIGN, MALICIOUS
from saess.errors import InputError
from saess.generation import SafeGenerator, SamplingConfig, StrategicConfig
from saess.model import SafetyModel
from saess.model.loading import artifact_dir
from saess.model.tokens import IGNORE, collate
from saess.runtime import batch_then_one_by_one
from saess.stats import auroc
from saess.training.config import TrainConfig
from saess.training.trainer import SafetyTrainer, load_trainable, training_device, world
from saess.training.views import query_view, response_views

logger = logging.getLogger(__name__)

VARIANTS = ("cls", "sft", "aug")
EDGY_SOURCES = ("overrefusal_train", "edgy_handwritten")
# Sources whose licence allows classifier text only: never an SFT prompt or answer.
CLASSIFIER_ONLY_SOURCES = ("cyberseceval",)


# Fields of TrainConfig that are shared by both phases and set in PipelineConfig.train.
_PHASE_FIELDS = ("phase", "lam", "signal", "finetune", "epochs", "max_steps")


@dataclass
class PipelineConfig:
    """Both phases of one variant. `train` holds the optimiser, LoRA and batch settings shared by
    both phases (its phase-specific fields are set per phase from the fields below)."""

    variant: str = "cls"
    base: str = "base"
    train: TrainConfig = field(default_factory=TrainConfig)
    phase1_steps: int = 60
    phase2_steps: int = 300
    phase1_epochs: float | None = None  # instead of phase1_steps: passes over the phase-1 texts
    lam1: float = 0.01
    lam2: float = 0.1
    phase1_head_lr: float | None = None
    phase1_batch_size: int | None = None
    # A finished phase-1 folder (`<run>/phase1/final`) to start phase 2 from instead of
    # training phase 1 (ablations that change only phase 2 share one phase 1).
    phase1_from: str | None = None
    # Benign prompts that sound harmful ("how do I kill a process") are few in the packaged
    # data; repeating them k times in both phases teaches the head not to key on words.
    edgy_repeat: int = 1
    phase1_finetune: str = "none"  # "lora" also trains the LM on L_lm (costly: V-way logits per token)
    # With phase1_finetune="lora" (the paper's phase 1): L_lm on at most K seeded target positions of
    # each benign phase-1 text (0: all of them); malicious texts get no L_lm, so phase 1 never
    # teaches the LM to write them (the paper's texts are Wikipedia; ours include harmful answers).
    phase1_lm_positions: int = 16
    # Phase 1 on what [CLS] judges at inference (saess.training.views): each chat's query
    # alone, query + first r1 response tokens, and r-token windows of answers.
    phase1_views: bool = False
    windows_per_answer: int = 2
    window_max_start: int = 64  # windows start within the first N response tokens (what 64-128-token answers hold)
    # At most N phase-1 sequences (a seeded sample): the frozen LM's one forward per sequence is
    # the cost of phase 1 (later epochs reuse its keys/values).
    phase1_limit: int | None = None
    # Malicious training prompts completed by the base model (harmful windows for phase 1).
    harmful_completions: int = 0
    completion_max_new_tokens: int = 48
    # Response openings the base model continues when it writes those completions (cycled over the
    # prompts; none: it answers the bare prompt). An affirmative opening makes it write on-topic
    # compliance past the point where it would refuse, and the opening is part of the answer.
    completion_prefills: tuple[str, ...] = ()
    # With openings: the same prompts are also answered bare (their own cache), and phase 1 reads both kinds.
    completion_bare_too: bool = False
    # Content labels of those completions (JSONL: prompt, sha8 of the response, label harmful / harmless / refusal,
    # e.g. read by readers: docs/results/v20/completion_reads.py): the answer windows of a completion read harmless
    # or a refusal are labelled benign (a window judges the text, not the request); its rule-1 view, which reads
    # the query, stays malicious. Every kept completion must have a label.
    completion_labels: str | None = None
    # What becomes of those windows: "benign" (trained as benign text) or "drop" (not trained on at all).
    completion_harmless: str = "benign"
    # Seed of the recipe's train / validation split; None: the run's seed (--seed). A rerun of a command with another
    # --seed and the same split (a replication) sets it to the first run's.
    recipe_seed: int | None = None
    # [CLS]-only adapter (saess.model.cls_adapter): rank, 0 = none.
    cls_adapter_r: int = 0
    cls_adapter_alpha: float = 16.0
    # A second `[CLS]` embedding and head for the window judgements (rules 2-3: the answer without the query),
    # so that query views and window views stop sharing one readout (docs/model.md, "Window [CLS]").
    window_cls: bool = False
    # No SFT loss on the guide tokens of refusals: the decision to refuse is left to the head
    # (strategic decoding inserts the guide); the LM learns only the reason that follows.
    mask_guide: bool = False
    retain_max_new_tokens: int = 96
    retain_limit: int | None = None
    # Which benign prompts the retain limit keeps: the first N of the recipe ("first") or a seeded
    # sample ("shuffle": every source, the contrast set included, gets answers in proportion).
    retain_shuffle: bool = False
    # Sources whose benign prompts come first in the retain list (before the limit): the base
    # model's answers to benign prompts that sound harmful (the contrast set) are the benign
    # response windows on edgy topics that phase 1 needs (a head trained only on windows of
    # chit-chat and arithmetic flags any answer about medicine, security or chemistry).
    retain_prefer: tuple[str, ...] = ()
    # An earlier run's data folder: the retain set and the completed harmful prompts are that run's (the prompts
    # of its retain.jsonl and completions files still in this recipe, in their order), and its answers seed this
    # run's cache. A change of data then adds only the new prompts' query views and texts, with no new
    # generation (the retain / completion limits and the retain order flags are not applied).
    answers_from: str | None = None
    # Benign training prompts without an SFT answer (over the retain limit, or classifier-only
    # sources) still enter phase 2 as query views: L_cls only, so the head keeps seeing both
    # classes in proportion and does not drift towards "malicious" on edgy words.
    phase2_query_views: bool = False
    # lr of [CLS], head and [CLS]-only adapter in phase 2 (None: train.head_lr; 0: frozen, the
    # phase-1 classifier is kept and only the LM's LoRA moves).
    phase2_head_lr: float | None = None
    aug_limit: int | None = None
    val_limit: int = 200  # validation sequences scored at the end of each phase
    # validation queries and windows whose head scores give the AUROC after each phase (None: all)
    val_views_limit: int | None = 400
    # recorded in the trained model's config: whether its generated tokens attend to [CLS]
    # (StrategicConfig.lm_reads_cls, docs/method.md section 2; False only without an alignment phase,
    # which is what teaches the LM to read it)
    lm_reads_cls: bool = True
    extra: dict = field(default_factory=dict)

    def _check_answers_from(self) -> None:
        folder = Path(self.answers_from)
        if not (folder / "retain.jsonl").is_file():
            raise InputError(f"--answers-from {folder}: no retain.jsonl there "
                             "(expected an earlier run's data folder, such as runs/train-default/data)")
        if self.completion_prefills:
            raise InputError("--answers-from with --completion-prefill is not supported (which opening each cached "
                             "completion was written after is not recorded)")
        name = _completions_file(self)
        if self.variant == "cls" and self.phase1_views and self.harmful_completions and not (folder / name).is_file():
            raise InputError(f"--answers-from {folder}: no {name} there (the harmful completions of "
                             f"--completion-max-new-tokens {self.completion_max_new_tokens})")

    def __post_init__(self) -> None:
        if isinstance(self.train, dict):
            self.train = TrainConfig(**self.train)
        if self.val_limit < 1:
            raise InputError(f"--val-limit must be >= 1, got {self.val_limit}")
        if self.variant not in VARIANTS:
            raise InputError(f"variant {self.variant!r} is not one of {', '.join(VARIANTS)}")
        if self.window_cls and not (self.variant == "cls" and self.phase1_views):
            raise InputError("--window-cls needs --variant cls and --phase1-views (it trains on their answer windows)")
        if self.window_cls and self.phase1_from is not None:
            raise InputError("--window-cls trains the window [CLS] in phase 1, which --phase1-from skips")
        if self.cls_adapter_r < 0:
            raise InputError(f"--cls-adapter-r must be >= 0, got {self.cls_adapter_r}")
        if self.phase2_head_lr is not None and self.phase2_head_lr < 0:
            raise InputError(f"--phase2-head-lr must be >= 0, got {self.phase2_head_lr}")
        if self.phase1_finetune not in ("none", "lora"):
            raise InputError(f"--phase1-finetune must be none or lora, got {self.phase1_finetune!r}")
        if self.phase1_lm_positions < 0:
            raise InputError(f"--phase1-lm-positions must be >= 0, got {self.phase1_lm_positions}")
        if self.phase1_limit is not None and self.phase1_limit < 1:
            raise InputError(f"--phase1-limit must be >= 1, got {self.phase1_limit}")
        if self.phase2_steps < 0:
            raise InputError(f"--phase2-steps must be >= 0, got {self.phase2_steps}")
        if not self.lm_reads_cls and (self.variant != "cls" or self.phase2_steps > 0):
            raise InputError("--lm-reads-cls off needs the cls variant with --phase2-steps 0: the alignment phase "
                             "trains the LM to read [CLS], and the baselines have no signal")
        if self.phase2_steps == 0 and self.variant != "cls":
            raise InputError("--phase2-steps 0 (no alignment phase) only applies to the cls variant: "
                             "the sft and aug baselines are their phase 2")
        self.retain_prefer = tuple(self.retain_prefer)
        self.completion_prefills = tuple(self.completion_prefills)
        if self.completion_max_new_tokens < 1:
            raise InputError(f"--completion-max-new-tokens must be >= 1, got {self.completion_max_new_tokens}")
        if any(not x.strip() for x in self.completion_prefills):
            raise InputError("--completion-prefill: an opening must not be empty")
        if self.completion_labels is not None:
            if not (self.variant == "cls" and self.phase1_views and self.harmful_completions):
                raise InputError("--completion-labels needs --variant cls, --phase1-views and --harmful-completions N")
            if not Path(self.completion_labels).is_file():
                raise InputError(f"--completion-labels {self.completion_labels}: no such file")
        if self.completion_harmless != "benign" and self.completion_labels is None:
            raise InputError("--completion-harmless applies to --completion-labels, which is not given")
        if self.completion_harmless not in ("benign", "drop"):
            raise InputError(f"--completion-harmless must be benign or drop, got {self.completion_harmless!r}")
        if self.completion_bare_too and not self.harmful_completions:
            raise InputError("--completion-bare-too needs --harmful-completions N (the completions it adds to)")
        if self.completion_bare_too and not self.completion_prefills:
            raise InputError("--completion-bare-too needs --completion-prefill (without openings every completion "
                             "is bare already)")
        if self.answers_from is not None:
            self._check_answers_from()
        if self.phase1_epochs is not None and self.phase1_epochs <= 0:
            raise InputError(f"--phase1-epochs must be > 0, got {self.phase1_epochs}")
        if self.phase1_from is not None:
            if self.variant != "cls":
                raise InputError("--phase1-from only applies to the cls variant (the baselines have no phase 1)")
            if not (Path(self.phase1_from) / "safety.safetensors").is_file():
                raise InputError(f"--phase1-from {self.phase1_from}: no safety.safetensors there "
                                 "(expected a finished phase-1 folder such as runs/train-default/phase1/final)")

    @property
    def seed(self) -> int:
        return self.train.seed

    @property
    def split_seed(self) -> int:
        """The seed of the recipe's train / validation split (`--recipe-seed`; default the run's seed)."""
        return self.seed if self.recipe_seed is None else self.recipe_seed

    @property
    def skip_phase2(self) -> bool:
        """`--phase2-steps 0`: the model is phase 1's (the LM untouched; refusals come from the head
        and strategic decoding alone). The retain set is generated only for phase-1 windows
        (`phase1_views`) and, unless phase 1 trains the LM (`phase1_finetune="lora"`), the LM gets no
        LoRA adapter (nothing to save, nothing to run)."""
        return self.phase2_steps == 0

    @classmethod
    def from_flat(cls, **kw) -> PipelineConfig:
        """Build from one flat dict: TrainConfig's shared field names go into `train`."""
        shared = {f.name for f in fields(TrainConfig)} - set(_PHASE_FIELDS)
        train = {k: kw.pop(k) for k in list(kw) if k in shared}
        return cls(train=TrainConfig(**train), **kw)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d

    def phase_config(self, phase: str) -> TrainConfig:
        """The TrainConfig of phase 1 ("text") or 2 ("align")."""
        if phase == "text":
            return replace(self.train, phase="text", lam=self.lam1, signal=True, finetune=self.phase1_finetune,
                           max_steps=None if self.phase1_epochs else self.phase1_steps,
                           epochs=self.phase1_epochs or 1.0,
                           head_lr=self.phase1_head_lr or self.train.head_lr,
                           batch_size=self.phase1_batch_size or self.train.batch_size)
        return replace(self.train, phase="align", lam=self.lam2, signal=self.variant == "cls", finetune="lora",
                       max_steps=self.phase2_steps,
                       head_lr=self.train.head_lr if self.phase2_head_lr is None else self.phase2_head_lr)


def phase1_lm_targets(seqs: list, k: int, rng: random.Random) -> list:
    """Phase-1 texts for a phase 1 that trains the LM (`phase1_finetune="lora"`): no LM target on
    malicious texts, and at most `k` seeded targets on each benign one (0: all), so that L_lm costs
    k output-layer rows per text instead of one per token. Sequences are copied, not changed."""
    out = []
    for s in seqs:
        if s.cls_label == MALICIOUS:
            keep: set[int] = set()
        else:
            pos = [i for i, t in enumerate(s.labels) if t != IGNORE]
            keep = set(pos if k == 0 or len(pos) <= k else rng.sample(pos, k))
        out.append(replace(s, labels=[t if i in keep else IGNORE for i, t in enumerate(s.labels)]))
    return out


def _answer_with_base(model, prompts: list[str], path: Path, max_new_tokens: int, what: str,
                      batch_size: int = 32, prefills: dict[str, str] | None = None,
                      earlier: dict[str, str] | None = None) -> dict[str, str]:
    """Greedy answers of the untouched base model to `prompts`; cached (resumable) in `path` (JSONL).
    Returns the answers to `prompts` only, whatever else the cache holds. With `prefills`, the answer to
    a prompt in it starts with its prefill (the answer is the prefill and what the model wrote after it).
    `earlier` (--answers-from): answers of an earlier run, taken instead of generating and added to the
    cache; a cached answer that differs from one of them is an error."""
    prefills = prefills or {}
    done = {d["prompt"]: d["response"] for _, d in read_jsonl_path(path)} if path.exists() else {}
    if earlier:
        clash = next((p for p in prompts if p in done and p in earlier and done[p] != earlier[p]), None)
        if clash is not None:
            raise InputError(f"--answers-from: {path} already answers {clash[:60]!r} differently from the earlier run "
                             "(use a new --out, or the same earlier run)")
        add = {p: earlier[p] for p in prompts if p in earlier and p not in done}
        if add:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.writelines(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in add.items())
            done.update(add)
    todo = list(dict.fromkeys(p for p in prompts if p not in done))
    if not todo:
        return {p: done[p] for p in prompts if p in done}
    logger.info("%s: answering %d prompts with the base model", what, len(todo))
    gen = SafeGenerator(model, StrategicConfig(reliance="off"))
    sp = SamplingConfig(max_new_tokens=max_new_tokens)
    todo.sort(key=len)  # similar lengths pad less
    with open(path, "a") as f, tqdm(total=len(todo), desc=what, unit="prompt") as bar:
        for s in range(0, len(todo), batch_size):
            chunk = todo[s:s + batch_size]
            outcomes = batch_then_one_by_one(lambda ps: gen.generate(ps, [prefills.get(p) for p in ps], sampling=sp),
                                             chunk, retry_on=InputError)
            for o in outcomes:
                if o.error is not None:
                    logger.warning("%s: skipped a prompt (%s)", what, o.error)
                    continue
                r = o.result
                text = (r.response if r.prefill else r.generated).strip()
                done[r.prompt] = text
                f.write(json.dumps({"prompt": r.prompt, "response": text}) + "\n")
            f.flush()
            bar.update(len(chunk))
    # Only the answers asked for: a cache filled by a run with other limits must not change this one.
    return {p: done[p] for p in prompts if p in done}


def _completions_file(cfg: PipelineConfig, prefills: tuple[str, ...] | None = None) -> str:
    """The cache of the harmful completions: one file per (length, openings), so that a run with other
    settings never reuses answers written under different ones (the default keeps its old name).
    `prefills` overrides the config's openings (() names the bare completions of --completion-bare-too)."""
    opens = cfg.completion_prefills if prefills is None else prefills
    if cfg.completion_max_new_tokens == PipelineConfig.completion_max_new_tokens and not opens:
        return "completions.jsonl"
    key = json.dumps([cfg.completion_max_new_tokens, list(opens)])
    return f"completions-{hashlib.sha256(key.encode()).hexdigest()[:10]}.jsonl"


def _earlier_answers(src: Path, allowed: set[str]) -> tuple[list[str], dict[str, str]]:
    """--answers-from: the prompts of an earlier run's answer file that are still in `allowed` (in its order),
    and its answers (for `_answer_with_base`'s `earlier`). Every line is checked before anything is used."""
    if not src.is_file():
        raise InputError(f"--answers-from: {src} is missing (the earlier run wrote no answers with these settings)")
    rows: dict[str, str] = {}
    for line, obj in read_jsonl_path(src):
        if not isinstance(obj.get("prompt"), str) or not isinstance(obj.get("response"), str):
            raise InputError(f"{src}, line {line}: field 'prompt' or 'response' is missing or not a string")
        rows.setdefault(obj["prompt"], obj["response"])
    kept = [p for p in rows if p in allowed]
    logger.info("--answers-from %s: %d of its %d prompts are in this recipe (the retain limit and order flags and "
                "--harmful-completions are not applied)", src, len(kept), len(rows))
    return kept, rows


def _after_opening(answer: str, opening: str | None) -> str:
    """What the model wrote after the opening it was given."""
    return answer[len(opening):] if opening and answer.startswith(opening) else answer


COMPLETION_LABELS = ("harmful", "harmless", "refusal")

# A completion that opens like a refusal is not a harmful answer (phase-1 windows would mislabel it).
_REFUSAL_START = re.compile(r"^\W*(i'?m sorry|sorry|i cannot|i can'?t|i won'?t|i am not able|i'?m not able|"
                            r"as an ai|i apologi[sz]e|i must decline|i'?m unable|i am unable)", re.I)


def _aug_examples(cfg: PipelineConfig, tokenizer, harmful) -> list[tuple[str, str, str]]:
    """(prompt, harmful prefix, refusal) for malicious training prompts with a packaged harmful answer."""
    rng = random.Random(cfg.seed)
    out = []
    for e in harmful:
        n = rng.choice([5, 10, 20, 40])
        ids = tokenizer(e.response, add_special_tokens=False, split_special_tokens=True).input_ids[:n]
        out.append((e.prompt, tokenizer.decode(ids), make_refusal(e.prompt, e.category)))
    if cfg.aug_limit:
        out = out[: cfg.aug_limit]
    return out


def _encode(encode, items, what: str):
    seqs, skipped = [], 0
    for it in items:
        try:
            seqs.append(encode(it))
        except (InputError, ValueError):
            skipped += 1
    if skipped:
        logger.warning("%s: skipped %d of %d sequences (longer than max_length or empty)", what, skipped, len(items))
    return seqs


def _mask_guide(seq, guide_ids: list[int]):
    """No LM target on the guide tokens that open a refusal (they stay in the input)."""
    q, g = seq.query_len, len(guide_ids)
    if seq.input_ids[q:q + g] == guide_ids:
        seq.labels[q:q + g] = [IGNORE] * g
    return seq


def _completion_labels(path: Path, completions: list[tuple[str, str]]) -> frozenset:
    """The (prompt, completion) pairs whose content labels (`--completion-labels`) say harmless or refusal.
    Each completion needs a row with its prompt and the sha256[:8] of its text (a prompt may have several
    completions); a row of another text, or two rows for one text, is an error."""
    rows: dict[tuple[str, str], str] = {}
    for n, row in read_jsonl_path(path):
        for k in ("prompt", "sha8", "label"):
            if not isinstance(row.get(k), str):
                raise InputError(f"{path}, line {n}: field {k!r} is missing or not a string")
        if row["label"] not in COMPLETION_LABELS:
            raise InputError(f"{path}, line {n}: label {row['label']!r} is not one of {', '.join(COMPLETION_LABELS)}")
        key = (row["prompt"], row["sha8"])
        if key in rows:
            raise InputError(f"{path}, line {n}: a second label for the same completion")
        rows[key] = row["label"]
    out, missing = set(), []
    for prompt, answer in completions:
        label = rows.get((prompt, hashlib.sha256(answer.encode()).hexdigest()[:8]))
        if label is None:
            missing.append(prompt)
        elif label != "harmful":
            out.add((prompt, answer))
    if missing:
        raise InputError(f"{path}: no label for the completion of {missing[0][:60]!r} (prompt and sha8 of its text; "
                         f"{len(missing)} of {len(completions)} unlabelled)")
    logger.info("completion labels: %d of %d completions read harmless or a refusal", len(out), len(completions))
    return frozenset(out)


def _phase1_view_seqs(enc, chats, answered, rng, cfg: PipelineConfig, what: str,
                      benign_windows: frozenset = frozenset()):
    """Query views of every chat, and rule-1 views + windows of every (prompt, answer, label); the windows of the
    (prompt, answer) pairs in `benign_windows` (malicious prompts whose answer was read harmless) are benign, or
    left out with `--completion-harmless drop`."""
    seqs = _encode(lambda c: query_view(enc, c[0], c[2]), chats, f"{what} query views")
    for prompt, answer, label in answered:
        try:
            views = response_views(enc, prompt, answer, label, rng, windows=cfg.windows_per_answer,
                                   max_start=cfg.window_max_start)
        except (InputError, ValueError):
            continue
        if (prompt, answer) in benign_windows:
            views[1:] = [] if cfg.completion_harmless == "drop" else [replace(v, cls_label=BENIGN) for v in views[1:]]
        seqs += views
    return seqs


@torch.no_grad()
def score_views(model, seqs, batch_size: int = 32) -> list[float]:
    """P(malicious) of phase-1 views under the labelled-text mask ([CLS] sees the flagged tokens)."""
    model.eval()
    out = []
    for s in range(0, len(seqs), batch_size):
        batch = collate(seqs[s:s + batch_size], model.tokenizer.pad_token_id)
        out += model.text_phase_safety_logits(batch).float().softmax(-1)[:, 1].tolist()
    return out


def view_metrics(model, seqs, threshold: float = 0.5) -> dict:
    """AUROC and TPR/FPR at `threshold` of the head on labelled views (validation)."""
    if not seqs:
        return {}
    p = score_views(model, seqs)
    pos = [x for x, s in zip(p, seqs, strict=True) if s.cls_label == MALICIOUS]
    neg = [x for x, s in zip(p, seqs, strict=True) if s.cls_label != MALICIOUS]
    res = {"n_malicious": len(pos), "n_benign": len(neg)}
    if pos and neg:
        res["auroc"] = round(auroc(pos, neg), 4)
    if pos:
        res["tpr"] = round(sum(x >= threshold for x in pos) / len(pos), 4)
    if neg:
        res["fpr"] = round(sum(x >= threshold for x in neg) / len(neg), 4)
    return res


def _validation_report(model, enc, val_chats, val_answered, rng, out: Path, phase: str,
                       limit: int | None = None) -> dict:
    """The head on the recipe's validation split: queries alone, and response windows
    (at most `limit` of each, a seeded sample: scoring costs a forward pass per sequence)."""
    if limit is not None:
        val_chats = rng.sample(val_chats, min(limit, len(val_chats)))
        val_answered = rng.sample(val_answered, min(limit, len(val_answered)))
    queries = _encode(lambda c: query_view(enc, c[0], c[2]), val_chats, "val query views")
    windows = []
    for prompt, answer, label in val_answered:
        try:
            windows += response_views(enc, prompt, answer, label, rng, windows=1)[1:]
        except (InputError, ValueError):
            pass
    rep = {"phase": phase, "queries": view_metrics(model, queries), "windows": view_metrics(model, windows)}
    logger.info("validation after %s: %s", phase, json.dumps(rep))
    (out / "val_metrics.json").write_text(json.dumps(rep, indent=2))
    return rep


def run_pipeline(cfg: PipelineConfig, out: str | Path, model=None, recipe=None, device: str | None = None) -> Path:
    """Train `cfg.variant` into `out/`; returns the folder of the final model (`out/final`).
    `device`: where the base model is loaded when `model` is None (`training_device`: a visible GPU,
    this process's under torchrun, else the CPU); a given `model` is trained where it is."""
    out = Path(out)
    rank, _ = world()
    (out / "data").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    if model is None:
        model = SafetyModel.from_base(cfg.base, device=training_device(device))  # its own context; lowered below
    recipe = recipe or build_recipe(RecipeConfig(seed=cfg.split_seed))
    if cfg.edgy_repeat > 1:
        recipe = dict(recipe)
        for split in ("labelled_text", "alignment"):
            edgy = [x for x in recipe[split] if x.source in EDGY_SOURCES]
            recipe[split] = recipe[split] + edgy * (cfg.edgy_repeat - 1)
    if rank == 0:
        (out / "data" / "recipe_stats.json").write_text(json.dumps(recipe_stats(recipe), indent=2))

    # Retain set: answers of the untouched base model (before any adapter exists). Texts that
    # may only train the classifier (CLASSIFIER_ONLY_SOURCES) get no SFT answer.
    sft_ok = [e for e in recipe["alignment"] + recipe["alignment_val"] if e.source not in CLASSIFIER_ONLY_SOURCES]
    # The base model's answers serve phase 2 (SFT targets) and phase-1 windows (benign answers).
    wanted = not cfg.skip_phase2 or (cfg.variant == "cls" and cfg.phase1_views)
    need = [e.prompt for e in sft_ok if e.response is None] if wanted else []
    if cfg.retain_shuffle:
        need = list(dict.fromkeys(need))
        random.Random(cfg.seed + 3).shuffle(need)
    if cfg.retain_prefer:
        have = {e.source for e in sft_ok}
        unknown = [x for x in cfg.retain_prefer if x not in have]
        if unknown:
            raise InputError(f"--retain-prefer: no SFT prompts of source {', '.join(unknown)} in the recipe "
                             f"(sources: {', '.join(sorted(have))})")
        first = {e.prompt for e in sft_ok if e.source in cfg.retain_prefer}
        need = [p for p in need if p in first] + [p for p in need if p not in first]
    if cfg.retain_limit is not None:
        need = need[: cfg.retain_limit]
    earlier = None
    if cfg.answers_from is not None and wanted:
        need, earlier = _earlier_answers(Path(cfg.answers_from) / "retain.jsonl",
                                         {e.prompt for e in sft_ok if e.response is None})
    answers = _answer_with_base(model, need, out / "data" / "retain.jsonl", cfg.retain_max_new_tokens,
                                "retain", earlier=earlier) if need else {}
    harmful: list[tuple[str, str, int]] = []  # (prompt, complying answer, MALICIOUS), train split only
    kept_all: list[tuple[str, str, int]] = []  # the base model's completions among them
    benign_windows: frozenset = frozenset()  # (prompt, completion) read harmless: benign windows (--completion-labels)
    if cfg.variant == "cls" and cfg.phase1_views:
        harmful = [(e.prompt, e.response, MALICIOUS) for e in recipe.get("harmful_answers", [])]
        if cfg.harmful_completions:
            mal = list(dict.fromkeys(e.base_prompt for e in recipe["alignment"] if e.label == MALICIOUS))
            mal = mal[: cfg.harmful_completions]
            opens = cfg.completion_prefills
            settings = [opens] + ([()] if cfg.completion_bare_too else [])
            for o in settings:
                earlier = None
                if cfg.answers_from is not None:
                    mal, earlier = _earlier_answers(Path(cfg.answers_from) / _completions_file(cfg, o),
                                                    {e.base_prompt for e in recipe["alignment"] if e.label == MALICIOUS})
                pre = {p: o[i % len(o)] for i, p in enumerate(mal)} if o else {}
                done = _answer_with_base(model, mal, out / "data" / _completions_file(cfg, o),
                                         cfg.completion_max_new_tokens, "completions", prefills=pre, earlier=earlier)
                # the refusal test reads what the model wrote, after the opening it was given
                kept = [(p, a, MALICIOUS) for p, a in done.items()
                        if a and not _REFUSAL_START.match(_after_opening(a, pre.get(p)))]
                logger.info("harmful completions (%s): %d kept of %d (refusal-like openings dropped)",
                            "after openings" if o else "bare", len(kept), len(done))
                harmful += kept
                kept_all += kept
            harmful = list(dict.fromkeys(harmful))  # a bare answer may repeat an opened one word for word
            if cfg.completion_labels is not None:
                benign_windows = _completion_labels(Path(cfg.completion_labels), [(p, a) for p, a, _ in kept_all])
                logger.info("their windows are %s (--completion-harmless %s)",
                            "left out" if cfg.completion_harmless == "drop" else "benign", cfg.completion_harmless)
    # Training sequences are capped (time on CPU); longer ones are skipped and counted.
    # Only the encoder is capped: the config (saved with every checkpoint) keeps the model's context.
    context = model.config.max_length
    model.encoder.max_length = min(context, cfg.train.max_length)

    def chats(items, sft: bool = True):
        res = []
        for e in items:
            if sft and e.source in CLASSIFIER_ONLY_SOURCES:
                continue
            resp = e.response if e.response is not None else answers.get(e.prompt)
            if resp or not sft:
                res.append((e.prompt, resp, e.label, None))
        return res

    align_train, align_val = chats(recipe["alignment"]), chats(recipe["alignment_val"])
    if cfg.variant == "aug":
        aug = _aug_examples(cfg, model.tokenizer, recipe.get("harmful_answers", []))
        align_train += [(p, refusal, 1, prefix) for p, prefix, refusal in aug]
        logger.info("aug: %d harmful-prefix-then-refusal examples", len(aug))

    if cfg.cls_adapter_r and cfg.variant == "cls":
        model.add_cls_adapter(cfg.cls_adapter_r, cfg.cls_adapter_alpha)
    if cfg.window_cls and cfg.variant == "cls":
        model.add_window_cls()
    t = cfg.train
    if not cfg.skip_phase2 or cfg.phase1_finetune == "lora":  # no alignment phase: no LM adapter at all
        model.add_lora(r=t.lora_r, alpha=t.lora_alpha, dropout=t.lora_dropout, target_modules=t.lora_targets)
    model.config.extra.update({"variant": cfg.variant, "signal": cfg.variant == "cls", "pipeline": cfg.to_dict()})
    model.config.lm_reads_cls = cfg.lm_reads_cls
    enc = model.encoder
    rng = random.Random(cfg.seed)
    # (prompt, answer, label) pairs that phase-1 windows are cut from: benign chats' answers
    # (not refusals) and complying answers to malicious prompts.
    answered = [(p, r, lab) for p, r, lab, _ in align_train if lab != MALICIOUS and r] + harmful
    val_answered = [(p, r, lab) for p, r, lab, _ in align_val if lab != MALICIOUS and r]
    val_answered += [(e.prompt, e.response, MALICIOUS) for e in recipe.get("harmful_answers_val", [])]
    val_chats = chats(recipe["alignment_val"], sft=False)
    t0 = time.time()
    if cfg.phase1_from is not None:
        load_trainable(model, Path(cfg.phase1_from))
        logger.info("phase 1 taken from %s", cfg.phase1_from)
    elif cfg.variant == "cls" and (cfg.phase1_steps > 0 or cfg.phase1_epochs):
        p1 = out / "phase1"
        if (p1 / "final" / "safety.safetensors").exists():
            load_trainable(model, p1 / "final")
            logger.info("phase 1 already done: loaded %s", p1 / "final")
        else:
            texts = recipe["labelled_text"]
            if cfg.phase1_views:  # prompts alone are judged as chats by the query views instead
                texts = [x for x in texts if x.kind != "prompt"]
            tr = _encode(lambda x: enc.encode_text(x.text, x.label), texts, "phase 1")
            va = _encode(lambda x: enc.encode_text(x.text, x.label), recipe["labelled_text_val"][:cfg.val_limit],
                         "phase 1 val")
            if cfg.phase1_views:
                tr += _phase1_view_seqs(enc, chats(recipe["alignment"], sft=False), answered, rng, cfg, "phase 1",
                                        benign_windows)
            if cfg.phase1_limit is not None and len(tr) > cfg.phase1_limit:
                tr = random.Random(cfg.seed + 2).sample(tr, cfg.phase1_limit)
            if cfg.phase1_finetune == "lora":
                tr = phase1_lm_targets(tr, cfg.phase1_lm_positions, random.Random(cfg.seed + 3))
            logger.info("phase 1: %d sequences (%d tokens, %d malicious)", len(tr), sum(len(x) for x in tr),
                        sum(x.cls_label == MALICIOUS for x in tr))
            # Phase 1 trains [CLS], the head and the [CLS]-only adapter (docs/training.md): the LM is frozen.
            SafetyTrainer(model, cfg.phase_config("text"), tr, va).train(p1)
            if rank == 0:
                _validation_report(model, enc, val_chats, val_answered, random.Random(cfg.seed + 1), p1, "phase1",
                                   cfg.val_views_limit)
    if cfg.skip_phase2:
        def phase1_validation():
            done = out / "phase1" / "val_metrics.json"
            if done.exists():  # written when phase 1 ended (this run, or the run it resumes)
                return json.loads(done.read_text())
            (out / "phase1").mkdir(parents=True, exist_ok=True)
            return _validation_report(model, enc, val_chats, val_answered, random.Random(cfg.seed + 1),
                                      out / "phase1", "phase1", cfg.val_views_limit)
        return _save_final(model, cfg, out, context, t0, None, phase1_validation, rank)
    tr = _encode(lambda c: enc.encode_chat(c[0], c[1], c[2], prefill=c[3]), align_train, "phase 2")
    va = _encode(lambda c: enc.encode_chat(c[0], c[1], c[2], prefill=c[3]), align_val[:cfg.val_limit], "phase 2 val")
    if cfg.phase2_query_views and cfg.variant == "cls":
        answered_prompts = {c[0] for c in align_train}
        unanswered = [(e.prompt, None, e.label, None) for e in recipe["alignment"]
                      if e.label != MALICIOUS and e.prompt not in answered_prompts]
        unanswered = list({c[0]: c for c in unanswered}.values())
        views = _encode(lambda c: query_view(enc, c[0], c[2]), unanswered, "phase 2 query views")
        logger.info("phase 2: %d chats + %d benign query views (L_cls only)", len(tr), len(views))
        tr += views
    if cfg.mask_guide:
        guide = enc.text_ids(GUIDE_TEXT)
        tr = [_mask_guide(s, guide) if s.cls_label == MALICIOUS else s for s in tr]
    res = SafetyTrainer(model, cfg.phase_config("align"), tr, va).train(out / "phase2")
    def phase2_validation():
        return _validation_report(model, enc, val_chats, val_answered, random.Random(cfg.seed + 1),
                                  out / "phase2", "phase2", cfg.val_views_limit)
    return _save_final(model, cfg, out, context, t0, res.last,
                       phase2_validation if cfg.variant == "cls" else None, rank)


def _save_final(model, cfg: PipelineConfig, out: Path, context: int, t0: float, last_metrics, validation,
                rank: int) -> Path:
    """Save `out/final` (config with train time, last metrics and the validation report from
    `validation()`, when given) and the joined train log of both phases."""
    final = out / "final"
    model.encoder.max_length = context  # the saved model serves its whole context
    if rank == 0:
        model.config.extra["train_seconds"] = round(time.time() - t0, 1)
        model.config.extra["final_metrics"] = last_metrics
        if validation is not None:
            model.config.extra["validation"] = validation()
        model.save_pretrained(final)
        logs = [p for p in (out / "phase1" / "train_log.jsonl", out / "phase2" / "train_log.jsonl") if p.exists()]
        with open(final / "train_log.jsonl", "w") as f:
            for p in logs:
                for line in p.read_text().splitlines():
                    f.write(json.dumps({"phase": p.parent.name, **json.loads(line)}) + "\n")
    return final


def publish(final: Path, name: str) -> Path:
    """Copy a trained model (adapter, head, `[CLS]`, config, tokenizer, log) to saess/artifacts/NAME."""
    dest = artifact_dir(name)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(final, dest)
    return dest
