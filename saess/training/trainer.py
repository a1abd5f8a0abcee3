"""The training loop of both phases: losses, gradient accumulation, several processes, checkpoints.

Several processes: start with `torchrun --nproc_per_node N` or `accelerate launch`
(both set RANK / WORLD_SIZE). Each optimiser step takes a global batch of
`batch_size * world_size * grad_accum` sequences in a fixed order (seeded); rank r
takes every world_size-th sequence of it. Gradients are summed with `all_reduce`
after each step's backward passes; losses are normalised by the global counts of
target tokens and labelled sequences, so N processes with batch b/N reach the same
weights as one process with batch b (up to float summation order).

Checkpoints (`out/checkpoint/`): the trainable weights (`save_pretrained`), the
optimiser and scheduler state, the step, and the config and data fingerprint. A run
started again with the same `out` resumes from the last checkpoint without redoing or
losing steps; a checkpoint of another config or other data is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from saess.errors import InputError
from saess.model.safety_model import CONFIG_NAME, load_safety_file
from saess.model.tokens import IGNORE, EncodedSequence, collate
from saess.training.config import TrainConfig
from saess.training.kv_store import KVStore

logger = logging.getLogger(__name__)

STATE = "trainer_state.pt"
LOG = "train_log.jsonl"


@dataclass
class TrainResult:
    steps: int
    final_dir: Path
    last: dict


def world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _own_gpu() -> int | None:
    """This process's GPU: LOCAL_RANK when every process on this machine can have one, else None
    (no GPU, or more processes than GPUs: then all of them train on the CPU, with gloo)."""
    if not torch.cuda.is_available():
        return None
    if int(os.environ.get("LOCAL_WORLD_SIZE", "1")) > torch.cuda.device_count():
        return None
    return int(os.environ.get("LOCAL_RANK", "0"))


def init_distributed(device: str | None = None) -> None:
    """Join the process group that torchrun / accelerate launch describe, if any. `device`: where this
    process trains (`training_device`): on a GPU, nccl for CUDA tensors and gloo for the CPU ones
    (step counts and statistics); on the CPU, gloo."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dev = torch.device(device or training_device())
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
            dist.init_process_group(backend="cpu:gloo,cuda:nccl", device_id=dev)
        else:
            dist.init_process_group(backend="gloo")


def training_device(arg: str | None = None) -> str:
    """`arg` when given; else this process's GPU (LOCAL_RANK under torchrun / accelerate launch, when
    there are as many GPUs as processes); else cpu."""
    if arg == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        arg = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"  # each process its own GPU
    if arg:
        return arg
    gpu = _own_gpu()
    if gpu is None and torch.cuda.is_available():
        # GPUs are visible, but fewer than this machine's processes: say so rather than train on the CPU silently
        print(f"saess: {os.environ.get('LOCAL_WORLD_SIZE')} processes on this machine but "
              f"{torch.cuda.device_count()} GPU(s) visible to each: training on the CPU. Launch at most as many "
              "processes as GPUs, or pass --device cuda to give each process the GPU of its LOCAL_RANK.",
              file=sys.stderr)
    return "cpu" if gpu is None else f"cuda:{gpu}"


def fingerprint(seqs: list[EncodedSequence]) -> str:
    h = hashlib.sha256()
    for s in seqs:
        h.update(json.dumps([s.input_ids, s.labels, s.cls_label]).encode())
    return h.hexdigest()[:16]


class SafetyTrainer:
    """Trains a `SafetyModel` for one phase on encoded sequences."""

    def __init__(self, model, config: TrainConfig, train: list[EncodedSequence],
                 val: list[EncodedSequence] | None = None):
        if not train:
            raise InputError("no training sequences")
        if config.signal and config.phase == "text" and not any(s.cls_label != IGNORE for s in train):
            raise InputError("the labelled-text phase needs labels (benign/malicious) on the texts")
        self.model = model
        self.cfg = config
        self.train_seqs = train
        self.val_seqs = val or []
        self.rank, self.world = world()
        self.pad_id = model.tokenizer.pad_token_id
        # In the labelled-text phase no token attends to [CLS]; with the LM frozen the LM loss
        # cannot change, so it is not computed (it would dominate the cost: V-way logits per token).
        self.skip_lm = config.phase == "text" and config.finetune == "none"
        # ... and the keys/values [CLS] attends to never change: computed once per training
        # sequence (first epoch), every later step is one position per sequence.
        self.kv_memo: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = (
            {} if self.skip_lm and config.signal and config.kv_memo else None)
        # ... and, with `kv_store`, read from / written to a folder shared between runs.
        self._orders: dict[int, list[int]] = {}  # epoch -> its order (see _epoch_order)
        self.kv_store = None
        if self.kv_memo is not None and config.kv_store:
            self.kv_store = KVStore(config.kv_store, model)

    # --- data order ---------------------------------------------------------------------
    def _global_batch_size(self) -> int:
        return self.cfg.batch_size * self.world * self.cfg.grad_accum

    def total_steps(self) -> int:
        per_epoch = math.ceil(len(self.train_seqs) / self._global_batch_size())
        steps = max(1, math.ceil(per_epoch * self.cfg.epochs))
        return self.cfg.max_steps if self.cfg.max_steps else steps

    def _epoch_order(self, epoch: int) -> list[int]:
        """`_order(epoch)`, computed once per epoch: every step of an epoch slices the same order."""
        if epoch not in self._orders:
            self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
            self._orders[epoch] = self._order(epoch)
        return self._orders[epoch]

    def _order(self, epoch: int) -> list[int]:
        seed = self.cfg.seed * 1000003 + epoch
        if self.cfg.group_by_length:  # each slice of one global batch: sequences of similar length
            from transformers.trainer_pt_utils import get_length_grouped_indices

            return get_length_grouped_indices([len(s) for s in self.train_seqs], self._global_batch_size(),
                                              generator=torch.Generator().manual_seed(seed))
        idx = list(range(len(self.train_seqs)))
        random.Random(seed).shuffle(idx)
        return idx

    def _step_items(self, step: int) -> list[list[int]]:
        """Indices of this rank's micro-batches for optimiser step `step` (0-based)."""
        G = self._global_batch_size()
        n = len(self.train_seqs)
        per_epoch = math.ceil(n / G)
        epoch, k = divmod(step, per_epoch)
        order = self._epoch_order(epoch)
        glob = order[k * G:(k + 1) * G]
        if len(glob) < G:  # the last batch of an epoch: fill from the next epoch's order
            glob += self._epoch_order(epoch + 1)[: G - len(glob)]
        micro = []
        per_micro = self.cfg.batch_size * self.world
        for a in range(self.cfg.grad_accum):
            chunk = glob[a * per_micro:(a + 1) * per_micro]
            micro.append(chunk[self.rank::self.world])
        return micro

    # --- optimisation ---------------------------------------------------------------------
    def _setup(self):
        m = self.model
        head_params = m.safety_parameters()
        for n, p in m.lm.named_parameters():
            if self.cfg.finetune == "none":
                p.requires_grad_(False)
            elif self.cfg.finetune == "lora":
                p.requires_grad_("lora_" in n)
            else:
                p.requires_grad_(True)
        lm_params = [p for p in m.lm.parameters() if p.requires_grad]
        train_head = self.cfg.signal and self.cfg.head_lr > 0  # head_lr 0: the signal is kept as it is
        for p in head_params:
            p.requires_grad_(train_head)
        groups = [{"params": lm_params, "lr": self.cfg.lr, "weight_decay": self.cfg.weight_decay}]
        if train_head:
            groups.append({"params": head_params, "lr": self.cfg.head_lr, "weight_decay": 0.0})
        groups = [g for g in groups if g["params"]]
        if not groups:
            raise InputError("nothing to train: finetune='none' on a model without a safety signal")
        self.params = [p for g in groups for p in g["params"]]
        self.opt = torch.optim.AdamW(groups)
        total, warm = self.total_steps(), self.cfg.warmup_steps

        def lr_lambda(step):
            if step < warm:
                return (step + 1) / warm
            return max(0.0, (total - step) / max(1, total - warm))

        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda)

    def _loss_parts(self, batch):
        """Sum-reduced LM and `[CLS]` losses of one micro-batch, and its safety logits [B, 2]."""
        m = self.model
        batch = batch.to(m.device)
        if self.skip_lm and self.cfg.signal:  # frozen LM, nobody sees [CLS]: [CLS] alone needs gradients
            safety_logits = m.text_phase_safety_logits(batch).float()
            cls_sum = torch.zeros((), device=m.device)
            if (batch.cls_labels != IGNORE).any():
                cls_sum = self._cls_sum(safety_logits, batch.cls_labels)
            return torch.zeros((), device=m.device), cls_sum, safety_logits
        # Baselines (signal=False): no token attends to [CLS] = the plain language model.
        mask = m.phase_mask(batch, self.cfg.phase, signal=self.cfg.signal)
        # Only target positions go through the output layer: most of a chat is query.
        window = m.window_views(batch)  # rows judging a window of the answer alone (a window [CLS], if any)
        _, hidden, _ = m.run(batch.input_ids, batch.position_ids, mask, logits_to_keep=1,
                             cls_window=m._window_positions(batch.input_ids, window))
        if self.skip_lm:  # frozen LM and no token sees [CLS]: L_lm is a constant
            lm_sum = torch.zeros((), device=m.device)
        else:
            targets = batch.labels[:, 1:]
            sel = targets != IGNORE
            lm_sum = F.cross_entropy(m.lm_logits(hidden[:, :-1][sel]).float(), targets[sel], reduction="sum")
        cls_sum = torch.zeros((), device=m.device)
        safety_logits = m.head(hidden[:, 0], window=window).float() if self.cfg.signal else None
        if safety_logits is not None and (batch.cls_labels != IGNORE).any():
            cls_sum = self._cls_sum(safety_logits, batch.cls_labels)
        return lm_sum, cls_sum, safety_logits

    def _cls_sum(self, logits, labels):
        """Sum-reduced L_cls (with the configured label smoothing; unlabelled sequences ignored)."""
        return F.cross_entropy(logits, labels, ignore_index=IGNORE, reduction="sum",
                               label_smoothing=self.cfg.cls_label_smoothing)

    def _memo_loss(self, mb: list[int], batch):
        """Labelled-text loss of a frozen LM from memoised keys/values (see `kv_memo`)."""
        m = self.model
        todo = [j for j, i in enumerate(mb) if i not in self.kv_memo]
        if todo and self.kv_store is not None:
            for j in todo:
                kv = self.kv_store.get(self.train_seqs[mb[j]])
                if kv is not None:  # on the CPU, like visible_kv's (cls_logits_from_kv copies a batch over)
                    self.kv_memo[mb[j]] = kv
            todo = [j for j in todo if mb[j] not in self.kv_memo]
        if todo:
            sub = collate([self.train_seqs[mb[j]] for j in todo], self.pad_id)
            for j, kv in zip(todo, m.visible_kv(sub), strict=True):
                self.kv_memo[mb[j]] = kv
                if self.kv_store is not None:
                    self.kv_store.put(self.train_seqs[mb[j]], kv)
        logits = m.cls_logits_from_kv([self.kv_memo[i] for i in mb], window=m.window_views(batch)).float()
        labels = batch.cls_labels.to(m.device)
        cls_sum = self._cls_sum(logits, labels)
        return torch.zeros((), device=m.device), cls_sum

    def _counts(self, micro: list[list[int]]) -> tuple[float, float]:
        ntok = sum(sum(1 for t in self.train_seqs[i].labels[1:] if t != IGNORE) for mb in micro for i in mb)
        ncls = sum(1 for mb in micro for i in mb if self.train_seqs[i].cls_label != IGNORE)
        c = torch.tensor([ntok, ncls], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(c)
        return max(c[0].item(), 1.0), max(c[1].item(), 1.0)

    def train_step(self, step: int) -> dict:
        # A frozen LM in phase 1 runs in eval mode: dropout (PEFT's LoRA dropout included) would
        # only cost time, since none of its outputs is trained.
        self.model.train(not self.skip_lm)
        micro = self._step_items(step)
        ntok, ncls = self._counts(micro)
        lm_total, cls_total = 0.0, 0.0
        for mb in micro:
            if not mb:
                continue
            batch = collate([self.train_seqs[i] for i in mb], self.pad_id)
            if self.kv_memo is not None:
                lm_sum, cls_sum = self._memo_loss(mb, batch)
            else:
                lm_sum, cls_sum, _ = self._loss_parts(batch)
            loss = lm_sum / ntok + self.cfg.lam * cls_sum / ncls
            loss.backward()
            lm_total += lm_sum.item()
            cls_total += cls_sum.item()
        stats = torch.tensor([lm_total, cls_total], dtype=torch.float64)
        if self.world > 1:
            for p in self.params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                dist.all_reduce(p.grad)
            dist.all_reduce(stats)
        gnorm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.max_grad_norm)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        return {"lm_loss": stats[0].item() / ntok, "cls_loss": stats[1].item() / ncls,
                "grad_norm": float(gnorm), "lr": self.sched.get_last_lr()[0]}

    @torch.no_grad()
    def evaluate(self, seqs: list[EncodedSequence], batch_size: int | None = None) -> dict:
        """Mean LM loss over target tokens, and the head's accuracy on labelled sequences."""
        if not seqs:
            return {}
        self.model.eval()
        bs = batch_size or self.cfg.batch_size
        lm, ntok, correct, ncls = 0.0, 0, 0, 0
        for s in range(0, len(seqs), bs):
            chunk = seqs[s:s + bs]
            batch = collate(chunk, self.pad_id).to(self.model.device)
            lm_sum, _, safety_logits = self._loss_parts(batch)
            lm += lm_sum.item()
            ntok += int((batch.labels[:, 1:] != IGNORE).sum())
            if safety_logits is not None:
                lab = batch.cls_labels
                sel = lab != IGNORE
                correct += int((safety_logits.argmax(-1)[sel] == lab[sel]).sum())
                ncls += int(sel.sum())
        res = {} if self.skip_lm else {"val_lm_loss": lm / max(ntok, 1)}
        if ncls:
            res["val_cls_acc"] = correct / ncls
        return res

    # --- checkpoints --------------------------------------------------------------------
    def _meta(self) -> dict:
        cfg = {k: v for k, v in self.cfg.to_dict().items() if k not in TrainConfig.RESUMABLE_CHANGES}
        if not cfg["group_by_length"]:  # absent from the checkpoints of runs before the option: they still resume
            del cfg["group_by_length"]
        meta = {"config": cfg, "data": fingerprint(self.train_seqs), "world": self.world}
        c = self.model.config
        if c.window_cls:  # a checkpoint with a window [CLS] resumes only into a model with the same one
            meta["window_cls"] = [c.window_cls, c.window_cls_adapter]
        return meta

    def _save_checkpoint(self, out: Path, step: int) -> None:
        if self.rank != 0:
            return
        ck = out / "checkpoint"
        tmp = out / "checkpoint.part"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(tmp)
        torch.save({"step": step, "opt": self.opt.state_dict(), "sched": self.sched.state_dict(),
                    "meta": self._meta()}, tmp / STATE)
        shutil.rmtree(ck, ignore_errors=True)
        tmp.replace(ck)

    def _load_checkpoint(self, out: Path) -> int:
        ck = out / "checkpoint"
        if not (ck / STATE).exists():
            return 0
        # read to the CPU: a checkpoint written on a GPU resumes anywhere (the optimiser's state
        # follows its parameters' device in load_state_dict)
        state = torch.load(ck / STATE, weights_only=False, map_location="cpu")
        mine, theirs = self._meta(), state["meta"]
        if mine != theirs:
            keys = dict.fromkeys([*mine["config"], *theirs["config"]])
            diff = [k for k in keys if mine["config"].get(k) != theirs["config"].get(k)]
            what = f"config fields {', '.join(diff)}" if diff else (
                "training data" if mine["data"] != theirs["data"] else
                "window [CLS] settings" if mine.get("window_cls") != theirs.get("window_cls") else "number of processes")
            raise InputError(f"the checkpoint in {ck} was written by another run ({what} differ); "
                             "use another --out or delete it")
        load_trainable(self.model, ck)
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        logger.info("resumed from %s at step %d", ck, state["step"])
        return state["step"]

    # --- loop ---------------------------------------------------------------------------
    def train(self, out: str | Path, progress: bool = True) -> TrainResult:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self._setup()
        start = self._load_checkpoint(out)
        total = self.total_steps()
        log_path = out / LOG
        if self.rank == 0 and start == 0 and log_path.exists():
            log_path.unlink()
        if self.world > 1:
            dist.barrier()
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start, desc=f"train[{self.cfg.phase}]", file=sys.stderr,
                   disable=not progress or self.rank != 0)
        t0 = time.time()
        last: dict = {}
        for step in range(start, total):
            last = self.train_step(step)
            last["step"] = step + 1
            last["elapsed_s"] = round(time.time() - t0, 1)
            bar.update(1)
            bar.set_postfix(lm=f"{last['lm_loss']:.3f}", cls=f"{last['cls_loss']:.3f}")
            if self.rank == 0 and ((step + 1) % self.cfg.log_every == 0 or step + 1 == total):
                with open(log_path, "a") as f:
                    f.write(json.dumps(last) + "\n")
            if (step + 1) % self.cfg.checkpoint_every == 0 and step + 1 < total:
                self._save_checkpoint(out, step + 1)
        bar.close()
        final = out / "final"
        if self.val_seqs:
            last.update(self.evaluate(self.val_seqs))
            if self.rank == 0:
                with open(log_path, "a") as f:
                    f.write(json.dumps({"step": total, **last, "final": True}) + "\n")
        if self.rank == 0:
            self.model.save_pretrained(final)
            (final / "train_config.json").write_text(json.dumps(self.cfg.to_dict(), indent=2))
            shutil.rmtree(out / "checkpoint", ignore_errors=True)
        if self.world > 1:
            dist.barrier()
        return TrainResult(total, final, last)


def load_trainable(model, path: Path, window_from_query: bool = False) -> None:
    """Load `[CLS]`, head and LoRA weights saved by `save_pretrained` into a prepared model.

    A folder whose own config says its LM was not fine-tuned (`"finetune": "none"`, e.g. a phase 1 without
    an LM adapter taken by `--phase1-from` into a run with an alignment phase) gives only the `[CLS]` side:
    the prepared model's fresh LM adapter stays as it is (LoRA starts as the identity)."""
    from safetensors.torch import load_file

    # window_from_query: a model without a window [CLS] starts this one's as copies of its query [CLS] and head
    model.load_safety_state(load_safety_file(path / "safety.safetensors"), window_from_query=window_from_query)
    saved = path / CONFIG_NAME
    if saved.exists() and json.loads(saved.read_text(encoding="utf-8")).get("finetune") == "none":
        return
    if model.config.finetune == "lora":
        from peft import set_peft_model_state_dict

        ad = load_file(path / "adapter" / "adapter_model.safetensors")
        set_peft_model_state_dict(model.lm, ad)
    elif model.config.finetune == "full":
        from safetensors.torch import load_file as lf

        sd = {}
        for f in sorted((path / "model").glob("*.safetensors")):
            sd.update(lf(f))
        model.lm.load_state_dict(sd, strict=False)
