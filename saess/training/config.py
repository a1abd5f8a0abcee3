"""Training configuration: one dataclass per run, defaults from the paper where they apply."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from saess.errors import InputError

PHASES = ("text", "align")
FINETUNES = ("lora", "full", "none")


@dataclass
class TrainConfig:
    """One training phase.

    phase: "text" (labelled-text phase: L_lm + lam * L_cls, `[CLS]` sees the whole text,
        no token sees `[CLS]`) or "align" (alignment SFT: L_sft + lam * L_cls, `[CLS]`
        sees the query, response tokens see `[CLS]`).
    lam: lambda_1 = 0.01 (text) and lambda_2 = 0.1 (align, base model; 0.01 for an
        already aligned model) in the paper; None picks those defaults.
    signal: False trains a baseline without the safety signal: no token attends to
        `[CLS]` and lam = 0, which is exactly plain SFT of the language model.
    finetune: "lora" (PEFT LoRA on the LM; `[CLS]` and the head are always trained),
        "full", or "none" (only `[CLS]` and the head).
    lr: for the LM (paper, full fine-tuning: 2e-5; LoRA needs a larger one, default 2e-4);
        head_lr for `[CLS]` and the head. weight_decay 0.1 as in the paper.
    Losses are normalised by the number of target tokens (and labelled sequences) of the
    whole optimiser step across all processes and micro-batches, so gradient
    accumulation and several processes give the same update as one big batch.
    """

    phase: str = "align"
    lam: float | None = None
    signal: bool = True
    finetune: str = "lora"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: str = "all-linear"
    lr: float = 2e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.1
    # Label smoothing of L_cls (0: none). The head fits its training texts to a loss near 0
    # (session 14: ~0.0004) and ranks held-out prompts worse; smoothing caps how sure it may get.
    cls_label_smoothing: float = 0.0
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 8  # per process, per micro-batch
    grad_accum: int = 1
    max_length: int = 256  # tokens per training sequence, [CLS] included; longer ones are skipped
    warmup_steps: int = 10
    max_grad_norm: float = 1.0
    checkpoint_every: int = 50
    log_every: int = 5
    seed: int = 0
    dtype: str = "float32"
    # Phase 1 with a frozen LM: keep the keys/values [CLS] attends to in memory (float16, CPU)
    # after their first computation, so later epochs cost one position per sequence.
    kv_memo: bool = True
    # ... and share them between runs through a folder (saess.training.kv_store): a run on the
    # same phase-1 data then skips the base model's pass. None: memory only.
    kv_store: str | None = None
    # Order each epoch so that a batch holds sequences of similar length (transformers'
    # `get_length_grouped_indices`, what `Trainer(group_by_length=True)` does): shuffled, cut into
    # mega-batches of up to 50 batches, each sorted by length. A phase 1 that runs the whole LM
    # (`--phase1-finetune lora`) on texts, query views and answer windows of very different lengths
    # otherwise pays for every padded position (docs/training.md, "Training throughput"). Off: a plain
    # shuffle, the order every earlier run used.
    group_by_length: bool = False

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise InputError(f"phase {self.phase!r} is not one of {', '.join(PHASES)}")
        if self.finetune not in FINETUNES:
            raise InputError(f"finetune {self.finetune!r} is not one of {', '.join(FINETUNES)}")
        if not 0.0 <= self.cls_label_smoothing < 0.5:
            raise InputError(f"cls label smoothing must be in [0, 0.5), got {self.cls_label_smoothing}")
        if self.lam is None:
            self.lam = 0.01 if self.phase == "text" else 0.1
        if not self.signal:
            self.lam = 0.0
        for name in ("batch_size", "grad_accum", "max_length", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise InputError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.lr <= 0 or self.head_lr < 0:
            raise InputError("learning rates must be > 0 (head_lr 0: [CLS], head and adapter frozen)")

    def to_dict(self) -> dict:
        return asdict(self)

    # Fields that may change between a run and its resumption without changing the result.
    RESUMABLE_CHANGES = ("checkpoint_every", "log_every", "kv_memo", "kv_store")
