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

import json
import logging
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from saess.errors import InputError
from saess.training.config import TrainConfig
from saess.training.trainer import SafetyTrainer, world

logger = logging.getLogger(__name__)

VARIANTS = ("cls", "sft", "aug")
EDGY_SOURCES = ("overrefusal_train", "edgy_handwritten")


@dataclass
class PipelineConfig:
    variant: str = "cls"
    base: str = "base"
    phase1_steps: int = 60
    phase2_steps: int = 300
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 256
    lora_r: int = 8
    lora_alpha: int = 16
    lr: float = 2e-4
    head_lr: float = 1e-3
    lam1: float = 0.01
    lam2: float = 0.1
    phase1_head_lr: float | None = None
    # A finished phase-1 folder (`<run>/phase1/final`) to start phase 2 from instead of
    # training phase 1 (ablations that change only phase 2 share one phase 1).
    phase1_from: str | None = None
    # Benign prompts that sound harmful ("how do I kill a process") are few in the packaged
    # data; repeating them k times in both phases teaches the head not to key on words.
    edgy_repeat: int = 1
    phase1_finetune: str = "none"  # "lora" also trains the LM on L_lm (costly: V-way logits per token)
    retain_max_new_tokens: int = 96
    retain_limit: int | None = None
    aug_limit: int | None = None
    val_limit: int = 200  # validation sequences scored at the end of each phase
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.val_limit < 1:
            raise InputError(f"--val-limit must be >= 1, got {self.val_limit}")
        if self.variant not in VARIANTS:
            raise InputError(f"variant {self.variant!r} is not one of {', '.join(VARIANTS)}")
        if self.phase1_from is not None:
            if self.variant != "cls":
                raise InputError("--phase1-from only applies to the cls variant (the baselines have no phase 1)")
            if not (Path(self.phase1_from) / "safety.safetensors").is_file():
                raise InputError(f"--phase1-from {self.phase1_from}: no safety.safetensors there "
                                 "(expected a finished phase-1 folder such as runs/train-default/phase1/final)")


def _fill_retain(model, examples, out: Path, max_new_tokens: int, batch_size: int = 8) -> dict[str, str]:
    """Base-model answers to benign prompts without one; cached (resumable) in out/retain.jsonl."""
    from saess.generation import SafeGenerator, SamplingConfig, StrategicConfig

    path = out / "retain.jsonl"
    done: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                done[d["prompt"]] = d["response"]
    todo = [e.prompt for e in examples if e.prompt not in done]
    todo = list(dict.fromkeys(todo))
    if todo:
        logger.info("answering %d benign prompts with the base model (retain set)", len(todo))
        gen = SafeGenerator(model, StrategicConfig(reliance="off"))
        sp = SamplingConfig(max_new_tokens=max_new_tokens)
        from tqdm import tqdm

        with open(path, "a") as f, tqdm(total=len(todo), desc="retain", unit="prompt") as bar:
            for s in range(0, len(todo), batch_size):
                chunk = todo[s:s + batch_size]
                try:
                    results = gen.generate(chunk, sampling=sp)
                except InputError:  # one bad prompt must not stop the others
                    results = []
                    for p in chunk:
                        try:
                            results += gen.generate([p], sampling=sp)
                        except InputError as e:
                            logger.warning("retain: skipped a prompt (%s)", e)
                for r in results:
                    text = r.generated.strip()
                    done[r.prompt] = text
                    f.write(json.dumps({"prompt": r.prompt, "response": text}) + "\n")
                f.flush()
                bar.update(len(chunk))
    return done


def _aug_examples(cfg: PipelineConfig, tokenizer, val_keys: set[str]) -> list[tuple[str, str, str]]:
    """(prompt, harmful prefix, refusal) for malicious training prompts with a packaged harmful answer."""
    from saess.data.recipes import RecipeConfig, load_training_examples
    from saess.data.refusals import make_refusal
    from saess.data.sources import normalize_prompt

    examples, _ = load_training_examples(RecipeConfig(seed=cfg.seed))
    rng = random.Random(cfg.seed)
    out = []
    for e in examples:
        if e.label != 1 or not e.response or normalize_prompt(e.prompt) in val_keys:
            continue
        n = rng.choice([5, 10, 20, 40])
        ids = tokenizer(e.response, add_special_tokens=False, split_special_tokens=True).input_ids[:n]
        prefix = tokenizer.decode(ids)
        out.append((e.prompt, prefix, make_refusal(e.prompt, e.category)))
    if cfg.aug_limit:
        out = out[: cfg.aug_limit]
    return out


def _encode(encode, items, what: str):
    seqs, skipped = [], 0
    for it in items:
        try:
            seqs.append(encode(it))
        except InputError:
            skipped += 1
    if skipped:
        logger.warning("%s: skipped %d of %d sequences longer than max_length", what, skipped, len(items))
    return seqs


def run_pipeline(cfg: PipelineConfig, out: str | Path, model=None, recipe=None) -> Path:
    """Train `cfg.variant` into `out/`; returns the folder of the final model (`out/final`)."""
    from saess.data.recipes import RecipeConfig, build_recipe, recipe_stats
    from saess.data.sources import normalize_prompt
    from saess.model import SafetyModel

    out = Path(out)
    rank, _ = world()
    (out / "data").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    if model is None:
        model = SafetyModel.from_base(cfg.base)  # its own context; training lowers it below
    recipe = recipe or build_recipe(RecipeConfig(seed=cfg.seed))
    if cfg.edgy_repeat > 1:
        recipe = dict(recipe)
        for split in ("labelled_text", "alignment"):
            edgy = [x for x in recipe[split] if x.source in EDGY_SOURCES]
            recipe[split] = recipe[split] + edgy * (cfg.edgy_repeat - 1)
    if rank == 0:
        (out / "data" / "recipe_stats.json").write_text(json.dumps(recipe_stats(recipe), indent=2))

    # Retain set: answers of the untouched base model (before any adapter exists).
    need = [e for e in recipe["alignment"] + recipe["alignment_val"] if e.response is None]
    if cfg.retain_limit is not None:
        need = need[: cfg.retain_limit]
    answers = _fill_retain(model, need, out / "data", cfg.retain_max_new_tokens) if need else {}
    # Training sequences are capped (time on CPU); longer ones are skipped and counted.
    context = model.config.max_length
    model.config.max_length = min(model.config.max_length, cfg.max_length)
    model.encoder.max_length = model.config.max_length

    def chats(items):
        res = []
        for e in items:
            resp = e.response if e.response is not None else answers.get(e.prompt)
            if resp:
                res.append((e.prompt, resp, e.label, None))
        return res

    align_train, align_val = chats(recipe["alignment"]), chats(recipe["alignment_val"])
    if cfg.variant == "aug":
        val_keys = {normalize_prompt(e.prompt) for e in recipe["alignment_val"]}
        aug = _aug_examples(cfg, model.tokenizer, val_keys)
        align_train += [(p, refusal, 1, prefix) for p, prefix, refusal in aug]
        logger.info("aug: %d harmful-prefix-then-refusal examples", len(aug))

    model.add_lora(r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=0.05)
    model.config.extra.update({"variant": cfg.variant, "signal": cfg.variant == "cls",
                               "pipeline": {k: v for k, v in cfg.__dict__.items() if k != "extra"}})
    enc = model.encoder
    common = dict(batch_size=cfg.batch_size, grad_accum=cfg.grad_accum, max_length=cfg.max_length,
                  lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lr=cfg.lr, head_lr=cfg.head_lr, seed=cfg.seed)
    t0 = time.time()
    if cfg.phase1_from is not None:
        from saess.training.trainer import load_trainable

        load_trainable(model, Path(cfg.phase1_from))
        logger.info("phase 1 taken from %s", cfg.phase1_from)
    elif cfg.variant == "cls" and cfg.phase1_steps > 0:
        p1 = out / "phase1"
        if (p1 / "final" / "safety.safetensors").exists():
            from saess.training.trainer import load_trainable

            load_trainable(model, p1 / "final")
            logger.info("phase 1 already done: loaded %s", p1 / "final")
        else:
            tr = _encode(lambda t: enc.encode_text(t.text, t.label), recipe["labelled_text"], "phase 1")
            va = _encode(lambda t: enc.encode_text(t.text, t.label), recipe["labelled_text_val"][:cfg.val_limit],
                         "phase 1 val")
            # Phase 1 trains [CLS] and the head only (see docs/training.md): the LM is frozen.
            c1 = {**common, "head_lr": cfg.phase1_head_lr or cfg.head_lr}
            SafetyTrainer(model, TrainConfig(phase="text", lam=cfg.lam1, finetune=cfg.phase1_finetune,
                                             max_steps=cfg.phase1_steps, **c1), tr, va).train(p1)
    tr = _encode(lambda c: enc.encode_chat(c[0], c[1], c[2], prefill=c[3]), align_train, "phase 2")
    va = _encode(lambda c: enc.encode_chat(c[0], c[1], c[2], prefill=c[3]), align_val[:cfg.val_limit], "phase 2 val")
    res = SafetyTrainer(model, TrainConfig(phase="align", lam=cfg.lam2, signal=cfg.variant == "cls",
                                           max_steps=cfg.phase2_steps, **common), tr, va).train(out / "phase2")
    final = out / "final"
    model.config.max_length = model.encoder.max_length = context  # the saved model keeps its context
    if rank == 0:
        model.config.extra["train_seconds"] = round(time.time() - t0, 1)
        model.config.extra["final_metrics"] = res.last
        model.save_pretrained(final)
        logs = [p for p in (out / "phase1" / "train_log.jsonl", out / "phase2" / "train_log.jsonl") if p.exists()]
        with open(final / "train_log.jsonl", "w") as f:
            for p in logs:
                for line in p.read_text().splitlines():
                    f.write(json.dumps({"phase": p.parent.name, **json.loads(line)}) + "\n")
    return final


def publish(final: Path, name: str) -> Path:
    """Copy a trained model (adapter, head, `[CLS]`, config, tokenizer, log) to saess/artifacts/NAME."""
    from saess.model.loading import artifact_dir

    dest = artifact_dir(name)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(final, dest)
    return dest
