"""Training loop: losses, accumulation, checkpoints and resume, bad input, several processes."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from saess.errors import InputError
from saess.testing import tiny_safety_model
from saess.training import SafetyTrainer, TrainConfig
from saess.training.trainer import STATE

CHATS = [("How do I bake bread?", "Mix flour, water and yeast.", 0),
         ("Tell me how to build a bomb", "Sorry, I cannot fulfill your request because it is dangerous.", 1),
         ("Write a poem about the sea", "The sea is wide and blue.", 0),
         ("How do I hack a bank account?", "Sorry, I cannot fulfill your request because it is illegal.", 1)]


def _model(seed=0):
    m = tiny_safety_model("llama", "chatml", seed=seed)
    m.add_lora(r=4, alpha=8, dropout=0.0)
    return m


def _seqs(m, n=2):
    return [m.encoder.encode_chat(p, r, y) for p, r, y in CHATS * n]


def _flat(m):
    return torch.cat([p.detach().flatten() for p in m.parameters() if p.requires_grad])


def test_alignment_training_learns_the_labels(tmp_path):
    m = _model()
    seqs = _seqs(m, 3)
    cfg = TrainConfig(phase="align", batch_size=4, max_steps=40, lr=1e-2, head_lr=2e-2, lora_dropout=0.0,
                      warmup_steps=2)
    res = SafetyTrainer(m, cfg, seqs, seqs[:4]).train(tmp_path, progress=False)
    assert res.last["val_cls_acc"] == 1.0
    log = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["lm_loss"] < log[0]["lm_loss"] and log[-1]["cls_loss"] < log[0]["cls_loss"]
    assert (tmp_path / "final" / "adapter").exists()


def test_grad_accumulation_equals_big_batch(tmp_path):
    a, b = _model(), _model()
    seqs = _seqs(a)
    SafetyTrainer(a, TrainConfig(batch_size=4, max_steps=3, lora_dropout=0.0), seqs).train(tmp_path / "a", False)
    SafetyTrainer(b, TrainConfig(batch_size=2, grad_accum=2, max_steps=3, lora_dropout=0.0), seqs).train(
        tmp_path / "b", False)
    torch.testing.assert_close(_flat(a), _flat(b), atol=1e-5, rtol=1e-4)


def test_killed_run_resumes_without_redoing_steps(tmp_path):
    seqs = _seqs(_model())
    cfg = dict(batch_size=2, max_steps=6, checkpoint_every=2, lora_dropout=0.0)
    full = _model()
    SafetyTrainer(full, TrainConfig(**cfg), seqs).train(tmp_path / "full", False)

    class Killed(Exception):
        pass

    part = _model()
    t = SafetyTrainer(part, TrainConfig(**cfg), seqs)
    orig = t.train_step
    done = []

    def dying(step):
        if step == 5:
            raise Killed
        done.append(step)
        return orig(step)

    t.train_step = dying
    with pytest.raises(Killed):
        t.train(tmp_path / "resumed", False)
    assert (tmp_path / "resumed" / "checkpoint").exists()
    again = _model()
    t2 = SafetyTrainer(again, TrainConfig(**cfg), seqs)
    steps = []
    orig2 = t2.train_step
    t2.train_step = lambda s: steps.append(s) or orig2(s)
    t2.train(tmp_path / "resumed", False)
    assert steps == [4, 5]  # resumed at the step-4 checkpoint
    torch.testing.assert_close(_flat(full), _flat(again), atol=1e-6, rtol=1e-5)


def test_resume_with_other_config_is_refused(tmp_path):
    seqs = _seqs(_model())
    t = SafetyTrainer(_model(), TrainConfig(batch_size=2, max_steps=4, checkpoint_every=1), seqs)
    t.train_step = lambda s, o=t.train_step: (_ for _ in ()).throw(RuntimeError) if s == 2 else o(s)
    with pytest.raises(RuntimeError):
        t.train(tmp_path, False)
    with pytest.raises(InputError, match="lr"):
        SafetyTrainer(_model(), TrainConfig(batch_size=2, max_steps=4, lr=1e-3), seqs).train(tmp_path, False)


def _mixed_lengths(m):
    """Chats of very different lengths, as phase 1 mixes query views, windows and whole texts."""
    words = "the sea is wide and blue and the bread needs flour water and yeast".split()
    return [m.encoder.encode_chat(f"Question {i}?", " ".join(words[: 1 + (7 * i) % len(words)] * (1 + i % 4)), i % 2)
            for i in range(400)]


def _padded(trainer, epoch, seqs):
    order = trainer._order(epoch)
    G = trainer._global_batch_size()
    return sum(G * max(len(seqs[i]) for i in order[k:k + G]) for k in range(0, len(order), G))


def test_group_by_length_batches_similar_lengths_and_keeps_every_sequence():
    m = _model()
    seqs = _mixed_lengths(m)
    plain = SafetyTrainer(m, TrainConfig(batch_size=4, max_steps=1), seqs)
    grouped = SafetyTrainer(m, TrainConfig(batch_size=4, max_steps=1, group_by_length=True), seqs)
    for epoch in (0, 1):
        order = grouped._order(epoch)
        assert sorted(order) == list(range(len(seqs)))  # an epoch still holds every sequence once
        assert order == grouped._order(epoch)  # reproducible (a resumed run sees the same batches)
        assert _padded(grouped, epoch, seqs) < 0.8 * _padded(plain, epoch, seqs)
    assert grouped._order(0) != grouped._order(1)  # reshuffled every epoch


def test_group_by_length_is_part_of_what_a_checkpoint_resumes(tmp_path):
    seqs = _seqs(_model())

    def killed_at_2(**kw):
        t = SafetyTrainer(_model(), TrainConfig(batch_size=2, max_steps=4, checkpoint_every=1, **kw), seqs)
        t.train_step = lambda s, o=t.train_step: (_ for _ in ()).throw(RuntimeError) if s == 2 else o(s)
        with pytest.raises(RuntimeError):
            t.train(tmp_path / str(kw), False)
        return tmp_path / str(kw)

    plain, grouped = killed_at_2(), killed_at_2(group_by_length=True)
    with pytest.raises(InputError, match="group_by_length"):
        SafetyTrainer(_model(), TrainConfig(batch_size=2, max_steps=4, group_by_length=True), seqs).train(plain, False)
    with pytest.raises(InputError, match="group_by_length"):
        SafetyTrainer(_model(), TrainConfig(batch_size=2, max_steps=4), seqs).train(grouped, False)
    # a run without the option writes the checkpoint every earlier version wrote: no new field in it
    state = torch.load(plain / "checkpoint" / STATE, weights_only=False)
    assert "group_by_length" not in state["meta"]["config"]


def test_text_phase_needs_labels():
    m = _model()
    seqs = [m.encoder.encode_text("some text without a label")]
    with pytest.raises(InputError, match="labels"):
        SafetyTrainer(m, TrainConfig(phase="text"), seqs)


def test_baseline_without_signal_leaves_head_untouched(tmp_path):
    m = _model()
    head = m.safety_head.weight.detach().clone()
    SafetyTrainer(m, TrainConfig(signal=False, batch_size=2, max_steps=2), _seqs(m)).train(tmp_path, False)
    assert torch.equal(head, m.safety_head.weight)


def test_cls_label_smoothing_is_the_smoothed_cross_entropy():
    """--cls-label-smoothing eps: L_cls = (1 - eps) * CE(y) + eps * mean over both classes of CE(class)."""
    m = _model()
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-3.0, 4.0]])
    labels = torch.tensor([0, 1, -100])
    plain = SafetyTrainer(m, TrainConfig(batch_size=2, max_steps=1), _seqs(m))._cls_sum(logits, labels)
    smooth = SafetyTrainer(m, TrainConfig(batch_size=2, max_steps=1, cls_label_smoothing=0.2), _seqs(m))._cls_sum(
        logits, labels)
    logp = torch.log_softmax(logits[:2], dim=-1)
    want = sum(-(0.8 * logp[i, y] + 0.2 * logp[i].mean()) for i, y in enumerate((0, 1)))
    torch.testing.assert_close(smooth, want)
    torch.testing.assert_close(plain, -(logp[0, 0] + logp[1, 1]))


@pytest.mark.parametrize("kw", [dict(phase="pre"), dict(finetune="qlora"), dict(batch_size=0), dict(max_steps=0),
                                dict(cls_label_smoothing=0.5), dict(cls_label_smoothing=-0.1)])
def test_bad_config(kw):
    with pytest.raises(InputError):
        TrainConfig(**kw)


DDP_SCRIPT = r'''
import sys, torch
from saess.testing import tiny_safety_model
from saess.training import SafetyTrainer, TrainConfig
from saess.training.trainer import STATE
from saess.training.trainer import init_distributed, world
init_distributed()
bs, out = int(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
m = tiny_safety_model("llama", "chatml")
m.add_lora(r=4, alpha=8, dropout=0.0)
chats = [("How do I bake bread?", "Mix flour.", 0), ("Build a bomb", "Sorry, I cannot.", 1),
         ("A poem", "The sea.", 0), ("Hack a bank", "Sorry, I cannot, it is illegal.", 1)] * 2
seqs = [m.encoder.encode_chat(p, r, y) for p, r, y in chats]
SafetyTrainer(m, TrainConfig(batch_size=bs, max_steps=3, lora_dropout=0.0), seqs).train(out, False)
rank, _ = world()
flat = torch.cat([p.detach().flatten() for p in m.parameters() if p.requires_grad])
torch.save(flat, f"{out}/weights_rank{rank}.pt")
'''


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as sock:  # a free port: a fixed one collides with a concurrent run
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port]
    subprocess.run(torchrun + [str(script), "2", str(tmp_path / "two")], check=True, env=env, timeout=300)
    subprocess.run([sys.executable, str(script), "4", str(tmp_path / "one")], check=True, env=env, timeout=300)
    r0 = torch.load(Path(tmp_path / "two" / "weights_rank0.pt"))
    r1 = torch.load(Path(tmp_path / "two" / "weights_rank1.pt"))
    one = torch.load(Path(tmp_path / "one" / "weights_rank0.pt"))
    assert torch.equal(r0, r1)
    torch.testing.assert_close(r0, one, atol=1e-5, rtol=1e-4)


def test_phase1_from_is_checked(tmp_path):
    from saess.training.pipeline import PipelineConfig

    with pytest.raises(InputError, match="only applies to the cls variant"):
        PipelineConfig(variant="sft", phase1_from=str(tmp_path))
    with pytest.raises(InputError, match="no safety.safetensors there"):
        PipelineConfig(variant="cls", phase1_from=str(tmp_path))
    m = _model()
    m.save_pretrained(tmp_path / "p1")
    assert PipelineConfig(variant="cls", phase1_from=str(tmp_path / "p1")).phase1_from
    with pytest.raises(InputError, match="--val-limit must be >= 1, got 0"):
        PipelineConfig(val_limit=0)


def test_training_device_gives_each_process_its_gpu_or_the_cpu(monkeypatch, capsys):
    """`saess train --device` default: the process's GPU (LOCAL_RANK) when every process on the machine can
    have one; otherwise all of them on the CPU (gloo), never an ordinal that does not exist, and a line
    says so when GPUs were visible."""
    from saess.training.trainer import training_device

    assert training_device("cuda:3") == "cuda:3"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device(None) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert training_device(None) == "cuda:0"
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert training_device(None) == "cuda:1"
    assert "training on the CPU" not in capsys.readouterr().err
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")  # three processes, two GPUs
    assert training_device(None) == "cpu"
    assert "3 processes on this machine but 2 GPU(s) visible" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert training_device("cuda") == "cuda:1"  # --device cuda under torchrun: each process its own


def test_run_pipeline_loads_the_base_model_on_the_training_device(tmp_path, monkeypatch):
    """`run_pipeline(device=...)` (`saess train --device`) loads the base model there; before, training
    never left the CPU even with a GPU visible."""
    from saess.model import SafetyModel
    from saess.training.pipeline import PipelineConfig, run_pipeline

    seen = {}

    def fake_from_base(name, **kw):
        seen.update(kw, name=name)
        raise RuntimeError("stop here")

    monkeypatch.setattr(SafetyModel, "from_base", staticmethod(fake_from_base))
    with pytest.raises(RuntimeError, match="stop here"):
        run_pipeline(PipelineConfig(), tmp_path, device="cuda:1")
    assert seen == {"name": "base", "device": "cuda:1"}
