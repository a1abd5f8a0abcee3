"""GCG as an attack: rows -> greedy cases (goal + " " + suffix), with a resumable suffix cache."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from saess.attacks.base import (
    DEFAULT_MAX_NEW_TOKENS,
    AttackCase,
    AttackCases,
    Row,
    greedy_kwargs,
    normalise_rows,
)
from saess.attacks.gcg.adaptive import AdaptiveGCG
from saess.attacks.gcg.common import (
    CACHE_FILE,
    VARIANTS,
    GCGConfig,
    GCGResult,
    allowed_token_mask,
    resolve_config,
)
from saess.attacks.gcg.standard import import_nanogcg, run_standard
from saess.errors import InputError

logger = logging.getLogger(__name__)


def model_fingerprint(model) -> str:
    """A short hash of what the suffix depends on: base model, finetune, chat system prompt,
    `[CLS]`/head weights and a checksum of every LM parameter (not bit-exact, but enough to
    tell models apart in the suffix cache)."""
    h = hashlib.sha256()
    c = model.config
    h.update(json.dumps([c.base_model, c.finetune, c.cls_token_id, model.encoder.system_prompt]).encode())
    with torch.no_grad():
        for t in (model.cls_embedding, model.safety_head.weight, model.safety_head.bias):
            h.update(t.detach().float().cpu().numpy().tobytes())
        for name, p in model.lm.named_parameters():
            h.update(f"{name}{tuple(p.shape)}{float(p.detach().double().sum()):.6g}".encode())
    return h.hexdigest()[:16]


def _cache_key(fingerprint: str, variant: str, config: GCGConfig, prompt: str, target: str) -> str:
    raw = json.dumps({"model": fingerprint, "variant": variant, "config": asdict(config), "prompt": prompt,
                      "target": target}, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def load_suffix_cache(path: Path) -> dict[str, dict]:
    """key -> record of a suffix JSONL file; a torn last line (a killed run) is ignored."""
    out: dict[str, dict] = {}
    if not path.exists():
        return out
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out[rec["key"]] = rec
        except (json.JSONDecodeError, KeyError, TypeError):
            logger.warning("%s line %d: not a GCG suffix record; ignored", path, n)
    return out


def gcg(
    rows: Iterable[Any],
    model,
    *,
    variant: str = "standard",
    preset: str = "cpu",
    config: GCGConfig | None = None,
    limit: int | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    cache_dir: str | Path | None = None,
    default_target: str | None = None,
    progress: Callable[[Row, GCGResult], None] | None = None,
    **overrides,
) -> AttackCases:
    """One greedy case per row: prompt = goal + " " + optimised suffix.

    variant: "standard" (nanoGCG on `model.lm`) or "adaptive" (through the SafetyModel,
    loss includes the safety head). preset: "cpu" or "full" (nanoGCG defaults); `config`
    replaces the preset; keyword `overrides` change single fields (e.g. num_steps=5).
    limit: only the first `limit` rows. Rows without a `target` use `default_target`, or
    are skipped and counted. cache_dir: folder of `gcg_suffixes.jsonl`; suffixes found
    there (same model, variant, config, prompt, target) are reused, new ones appended as
    soon as they are found. The case's `meta` holds the suffix, losses, steps, seconds.
    """
    if variant not in VARIANTS:
        raise InputError(f"unknown GCG variant {variant!r}; valid: {', '.join(VARIANTS)}")
    cfg = resolve_config(preset, config, **overrides)
    preset_name = preset if config is None and not overrides else "custom"
    if limit is not None and limit < 0:
        raise InputError(f"limit must be >= 0, got {limit}")
    rows_n = normalise_rows(rows)
    if limit is not None:
        rows_n = rows_n[:limit]
    if variant == "standard":
        import_nanogcg()  # fail before any work
    cache_path = Path(cache_dir) / CACHE_FILE if cache_dir is not None else None
    cache = load_suffix_cache(cache_path) if cache_path else {}
    if cache_path:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
    fp = model_fingerprint(model) if cache_path else ""
    runner: AdaptiveGCG | None = None
    allowed: torch.Tensor | None = None
    out = AttackCases()
    for r in rows_n:
        target = r.target or default_target
        if target is None:
            out.skip("gcg: row has no target")
            continue
        key = _cache_key(fp, variant, cfg, r.prompt, target) if cache_path else ""
        rec = cache.get(key)
        cached = rec is not None
        if rec is None:
            if variant == "adaptive":
                runner = runner or AdaptiveGCG(model, cfg)
                res = runner.run(r.prompt, target)
            else:
                if allowed is None:
                    allowed = allowed_token_mask(model.tokenizer, model.lm.get_input_embeddings().weight.shape[0],
                                                 model.config.cls_token_id)
                res = run_standard(model, r.prompt, target, cfg, allowed)
            logger.info("gcg %s row %s: loss %.3f in %d steps, %.1f s", variant, r.id, res.best_loss, res.steps,
                        res.seconds)
            rec = {"key": key, "row_id": r.id, "variant": variant, "preset": preset_name, "prompt": r.prompt,
                   "target": target, "suffix": res.best_string, "result": res.to_dict()}
            if cache_path:
                with cache_path.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                cache[key] = rec
            if progress is not None:
                progress(r, res)
        res_d = rec["result"]
        suffix = rec["suffix"]
        meta = {"variant": variant, "preset": preset_name, "suffix": suffix, "target": target,
                "loss": res_d["best_loss"], "init_loss": res_d.get("init_loss"), "ce": res_d.get("best_ce"),
                "head": res_d.get("best_head"), "init_head": res_d.get("init_head"), "p_benign": res_d.get("p_benign"),
                "steps": res_d["steps"], "seconds": res_d["seconds"], "cached": cached, "config": asdict(cfg)}
        out.append(AttackCase(prompt=r.prompt + " " + suffix, prefill=None, gen_kwargs=greedy_kwargs(max_new_tokens),
                              config_name=f"{variant}-{preset_name}", attack="gcg", row_id=r.id,
                              source_prompt=r.prompt, meta=meta))
    return out


gcg_attack = gcg
