"""`saess bench-train`: seconds per optimiser step of each phase, against a baseline in the same run.

Rows (same model, same batch of synthetic chats, warm-up steps not timed):
- ``phase1_full``: the labelled-text phase as before, one full forward + backward with only
  `[CLS]` and the head trainable (the baseline of the ratios);
- ``phase1_two_pass``: the same loss in two passes (base K/V without gradients, `[CLS]` alone
  with them; `SafetyModel.text_phase_safety_logits`);
- ``phase1_two_pass_adapter``: two passes with the `[CLS]`-only adapter trained too;
- ``phase2_lora`` / ``phase2_lora_adapter``: the alignment phase (LoRA on the LM, SFT + cls loss),
  without and with the adapter.
Throughput is sequences per second. Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from saess.training.config import TrainConfig
from saess.training.trainer import SafetyTrainer

_WORDS = ("the model reads a question about cooking bread at home and answers with care and detail "
          "while the safety token judges what it sees in the window").split()


@dataclass
class TrainBenchConfig:
    batch_size: int = 8
    prompt_words: int = 30
    answer_words: int = 40
    steps: int = 3
    warmup: int = 1
    adapter_r: int = 8
    lora_r: int = 8


def _chats(n: int, cfg: TrainBenchConfig) -> list[tuple[str, str, int]]:
    out = []
    for i in range(n):
        p = " ".join(_WORDS[(i + j) % len(_WORDS)] for j in range(cfg.prompt_words))
        a = " ".join(_WORDS[(3 * i + j) % len(_WORDS)] for j in range(cfg.answer_words))
        out.append((p, a, i % 2))
    return out


def _time_steps(trainer: SafetyTrainer, cfg: TrainBenchConfig) -> float:
    trainer._setup()
    for s in range(cfg.warmup):
        trainer.train_step(s)
    _sync(trainer.model)
    t0 = time.perf_counter()
    for s in range(cfg.steps):
        trainer.train_step(cfg.warmup + s)
    _sync(trainer.model)
    return (time.perf_counter() - t0) / cfg.steps


def _sync(model) -> None:
    """Wait for a GPU's queued work, so that the clock reads what the steps cost."""
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)


def run_train_bench(make_model, cfg: TrainBenchConfig) -> dict:
    """`make_model()` returns a fresh SafetyModel; every row gets its own copy."""
    chats = _chats(cfg.batch_size * (cfg.steps + cfg.warmup), cfg)
    rows: dict[str, float] = {}
    devices: set[str] = set()

    def phase1(adapter: bool, two_pass: bool) -> float:
        m = make_model()
        devices.add(str(m.device))
        if adapter:
            m.add_cls_adapter(cfg.adapter_r, 2 * cfg.adapter_r)
        seqs = [m.encoder.encode_text(f"{p}\n\n{a}", y) for p, a, y in chats]
        tr = SafetyTrainer(m, TrainConfig(phase="text", finetune="none", batch_size=cfg.batch_size,
                                          max_steps=cfg.steps + cfg.warmup, warmup_steps=1), seqs)
        if not two_pass:  # the previous path: gradients through the whole sequence
            tr.skip_lm = False
            tr._loss_parts = lambda batch: _full_text_loss(m, batch)
        return _time_steps(tr, cfg)

    def phase2(adapter: bool) -> float:
        m = make_model()
        devices.add(str(m.device))
        if adapter:
            m.add_cls_adapter(cfg.adapter_r, 2 * cfg.adapter_r)
        m.add_lora(r=cfg.lora_r, alpha=2 * cfg.lora_r)
        seqs = [m.encoder.encode_chat(p, a, y) for p, a, y in chats]
        tr = SafetyTrainer(m, TrainConfig(phase="align", batch_size=cfg.batch_size,
                                          max_steps=cfg.steps + cfg.warmup, warmup_steps=1), seqs)
        return _time_steps(tr, cfg)

    rows["phase1_full"] = phase1(adapter=False, two_pass=False)
    rows["phase1_two_pass"] = phase1(adapter=False, two_pass=True)
    rows["phase1_two_pass_adapter"] = phase1(adapter=True, two_pass=True)
    rows["phase2_lora"] = phase2(adapter=False)
    rows["phase2_lora_adapter"] = phase2(adapter=True)
    base = rows["phase1_full"]
    return {"config": cfg.__dict__, "threads": torch.get_num_threads(), "device": ", ".join(sorted(devices)),
            "rows": {k: {"s_per_step": round(v, 3), "seq_per_s": round(cfg.batch_size / v, 2),
                         "vs_phase1_full": round(v / base, 3)} for k, v in rows.items()}}


def _full_text_loss(m, batch):
    """The labelled-text loss through one full forward (the baseline row)."""
    out = m(batch.to(m.device), phase="text", compute_lm=False)
    cls_sum = F.cross_entropy(out.safety_logits.float(), batch.cls_labels.to(m.device), reduction="sum")
    return torch.zeros((), device=m.device), cls_sum, out.safety_logits

