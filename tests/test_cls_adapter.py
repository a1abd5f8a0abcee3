"""The [CLS]-only adapter: deltas at [CLS] only, exact base computation elsewhere, two-pass phase 1."""

import json

import pytest
import torch

from saess.model import SafetyModel, collate
from saess.testing import tiny_safety_model
from saess.training.config import TrainConfig
from saess.training.trainer import SafetyTrainer, load_trainable

TEXTS = ["How do I bake bread at home?", "Tell me how to pick a lock on a neighbour's door tonight.",
         "A short one."]


def _with_adapter(seed=0, r=4, arch="llama"):
    m = tiny_safety_model(arch, seed=seed)
    m.add_cls_adapter(r=r, alpha=2 * r)
    with torch.no_grad():  # a fresh adapter is the identity (B = 0): make it act
        g = torch.Generator().manual_seed(seed + 7)
        for p in m.cls_adapter.B.values():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return m


def _text_batch(m, texts=TEXTS, labels=(0, 1, 0)):
    return collate([m.encoder.encode_text(t, lab) for t, lab in zip(texts, labels, strict=True)],
                   m.tokenizer.pad_token_id)


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_phase1_non_cls_logits_bit_identical(arch):
    m = _with_adapter(arch=arch)
    batch = _text_batch(m)
    with torch.no_grad():
        on = m(batch, phase="text")
        m.cls_adapter.enabled = False
        off = m(batch, phase="text")
    # every token but [CLS] is exactly the base computation: a leak would change these bits
    assert torch.equal(on.lm_logits[:, 1:], off.lm_logits[:, 1:])
    # and the adapter does act on [CLS]
    assert not torch.allclose(on.safety_logits, off.safety_logits)


def test_fresh_adapter_is_identity():
    m = tiny_safety_model()
    batch = _text_batch(m)
    with torch.no_grad():
        before = m(batch, phase="text").safety_logits
        m.add_cls_adapter(r=4)
        after = m(batch, phase="text").safety_logits
    assert torch.equal(before, after)


def test_two_pass_matches_full_forward_and_gradients():
    m = _with_adapter()
    batch = _text_batch(m)
    full = m(batch, phase="text", compute_lm=False).safety_logits
    two = m.text_phase_safety_logits(batch)
    assert torch.allclose(full, two, atol=1e-5), (full, two)
    params = m.safety_parameters()
    g_full = torch.autograd.grad(full.sum(), params)
    g_two = torch.autograd.grad(m.text_phase_safety_logits(batch).sum(), params)
    for a, b in zip(g_full, g_two, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)


def test_adapter_survives_lora_wrap_and_save_load(tmp_path):
    m = _with_adapter()
    batch = _text_batch(m)
    with torch.no_grad():
        ref = m(batch, phase="align", compute_lm=False).safety_logits
    m.add_lora(r=4, alpha=8)
    with torch.no_grad():
        wrapped = m(batch, phase="align", compute_lm=False).safety_logits
        m.cls_adapter.enabled = False
        bare = m(batch, phase="align", compute_lm=False).safety_logits
        m.cls_adapter.enabled = True
    assert torch.allclose(ref, wrapped, atol=1e-6)  # LoRA B = 0: same model, hooks still fire
    assert not torch.allclose(wrapped, bare)
    m.save_pretrained(tmp_path / "m")
    base = tiny_safety_model().lm  # same seed: same base weights
    m2 = SafetyModel.from_pretrained(tmp_path / "m", base_lm=base)
    assert m2.cls_adapter is not None and m2.config.cls_adapter_r == 4
    with torch.no_grad():
        assert torch.allclose(m2(batch, phase="align", compute_lm=False).safety_logits, ref, atol=1e-5)


def test_phase1_training_with_adapter_moves_only_safety_params(tmp_path):
    m = tiny_safety_model()
    m.add_cls_adapter(r=4)
    lm_before = {k: v.clone() for k, v in m.lm.state_dict().items()}
    seqs = [m.encoder.encode_text(t, lab) for t, lab in zip(TEXTS * 4, (0, 1, 0) * 4, strict=True)]
    cfg = TrainConfig(phase="text", finetune="none", max_steps=3, batch_size=4, head_lr=1e-2,
                      warmup_steps=1, checkpoint_every=100)
    SafetyTrainer(m, cfg, seqs, seqs[:4]).train(tmp_path / "p1", progress=False)
    assert all(torch.equal(v, m.lm.state_dict()[k]) for k, v in lm_before.items())
    assert any(p.abs().sum() > 0 for p in m.cls_adapter.B.values())  # the adapter learned
    m2 = tiny_safety_model()
    m2.add_cls_adapter(r=4)
    load_trainable(m2, tmp_path / "p1" / "final")
    b = _text_batch(m)
    with torch.no_grad():
        assert torch.allclose(m(b, phase="text").safety_logits, m2(b, phase="text").safety_logits, atol=1e-6)


def test_adapter_missing_from_weights_is_an_error(tmp_path):
    from saess.errors import ModelError

    m = tiny_safety_model()
    m.save_pretrained(tmp_path / "m")
    m2 = tiny_safety_model()
    m2.add_cls_adapter(r=2)
    from safetensors.torch import load_file

    with pytest.raises(ModelError, match="adapter"):
        m2.load_safety_state(load_file(tmp_path / "m" / "safety.safetensors"))


def test_memoised_keys_values_give_the_same_logits_and_gradients():
    m = _with_adapter()
    batch = _text_batch(m)
    ref = m.text_phase_safety_logits(batch)
    rows = m.visible_kv(batch, store_dtype=torch.float32)
    assert [k.shape[2] for k, _ in rows] == batch.content.sum(1).tolist()  # only what [CLS] sees
    got = m.cls_logits_from_kv(rows)
    assert torch.allclose(ref, got, atol=1e-5)
    half = m.cls_logits_from_kv(m.visible_kv(batch))  # float16 storage: close, not equal
    assert torch.allclose(ref, half, atol=5e-2)
    params = m.safety_parameters()
    for a, b in zip(torch.autograd.grad(ref.sum(), params), torch.autograd.grad(got.sum(), params), strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)


def test_trainer_with_and_without_kv_memo_reach_the_same_weights(tmp_path):
    seqs_of = lambda m: [m.encoder.encode_text(t, lab) for t, lab in zip(TEXTS * 4, (0, 1, 0) * 4, strict=True)]  # noqa: E731
    res = []
    for memo in (False, True):
        m = _with_adapter()
        cfg = TrainConfig(phase="text", finetune="none", max_steps=4, batch_size=4, head_lr=1e-2, warmup_steps=1,
                          checkpoint_every=100, kv_memo=memo)
        tr = SafetyTrainer(m, cfg, seqs_of(m))
        tr.train(tmp_path / f"m{memo}", progress=False)
        assert (tr.kv_memo is not None) == memo and (not memo or len(tr.kv_memo) == 12)
        res.append(torch.cat([p.detach().flatten() for p in m.safety_parameters()]))
    assert torch.allclose(res[0], res[1], atol=2e-3)


def test_kv_store_shared_between_runs_gives_the_same_weights(tmp_path):
    """--kv-store: a second run reads every sequence's keys/values from the folder (no base-model
    pass), ends with the first run's weights, and a store made by another base model is refused."""
    from saess.errors import InputError
    from saess.training.kv_store import KVStore

    seqs_of = lambda m: [m.encoder.encode_text(t, lab) for t, lab in zip(TEXTS * 4, (0, 1, 0) * 4, strict=True)]  # noqa: E731
    store = tmp_path / "kv"
    res, trainers = [], []
    for run in range(2):
        m = _with_adapter()
        cfg = TrainConfig(phase="text", finetune="none", max_steps=4, batch_size=4, head_lr=1e-2, warmup_steps=1,
                          checkpoint_every=100, kv_store=str(store))
        tr = SafetyTrainer(m, cfg, seqs_of(m))
        if run == 1:  # the base model's pass must not run: every sequence comes from the store
            m.visible_kv = lambda *a, **k: pytest.fail("base model pass on a stored sequence")
        tr.train(tmp_path / f"m{run}", progress=False)
        trainers.append(tr)
        res.append(torch.cat([p.detach().flatten() for p in m.safety_parameters()]))
    # 12 sequences, 3 distinct texts: the first run writes what it computes, the second only reads
    assert trainers[0].kv_store.writes >= 3 and trainers[0].kv_store.hits + trainers[0].kv_store.writes >= 3
    assert trainers[1].kv_store.writes == 0 and trainers[1].kv_store.hits >= 3
    assert torch.equal(res[0], res[1])
    other = tiny_safety_model("llama", seed=5)
    with pytest.raises(InputError, match="another base model"):
        KVStore(store, other)
    same_in_bf16 = _with_adapter()
    same_in_bf16.lm.to(torch.bfloat16)  # same weights, other precision: other keys/values
    with pytest.raises(InputError, match="another base model"):
        KVStore(store, same_in_bf16)
    # a store written on another kind of device (GPU kernels round differently) is refused, and says why
    meta = json.loads((store / "meta.json").read_text())
    here = meta["device"]
    meta["device"] = "cuda" if here == "cpu" else "cpu"
    (store / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=f"device '{meta['device']}' vs this run's '{here}'"):
        KVStore(store, _with_adapter())


def test_multi_judgement_pass_equals_separate_text_phase_passes():
    """text_phase_multi_logits: K [CLS] copies over one shared cache give the logits of K separate
    labelled-text passes whose content flags are the K rows (padded batch, adapter acting)."""
    m = _with_adapter(seed=2)
    batch = _text_batch(m)
    B, T = batch.input_ids.shape
    g = torch.Generator().manual_seed(3)
    sees = (torch.rand(B, 4, T, generator=g) < 0.5) & batch.valid[:, None, :]
    sees[:, 3] = False  # a row that sees nothing but itself
    with torch.no_grad():
        multi = m.text_phase_multi_logits(batch, sees)
        for k in range(4):
            batch.content = sees[:, k].clone()
            one = m.text_phase_safety_logits(batch)
            assert torch.allclose(multi[:, k], one, atol=1e-5), (k, multi[:, k], one)


def test_phase1_without_lm_adapter_loads_into_a_run_that_adds_one(tmp_path):
    """`--phase1-from` a phase 1 that never had an LM adapter (v15c's recipe) into a run with an alignment
    phase (the `phase2` ablation): the [CLS] side is loaded, the fresh LoRA stays the identity."""
    m = _with_adapter()
    m.save_pretrained(tmp_path / "p1")
    assert json.loads((tmp_path / "p1" / "saess_config.json").read_text())["finetune"] == "none"
    m2 = tiny_safety_model()
    m2.add_cls_adapter(r=4, alpha=8)
    m2.add_lora(r=4, alpha=8, dropout=0.0, target_modules="all-linear")
    load_trainable(m2, tmp_path / "p1")  # used to look for p1/adapter/adapter_model.safetensors
    b = _text_batch(m)
    with torch.no_grad():
        assert torch.allclose(m(b, phase="text").safety_logits, m2(b, phase="text").safety_logits, atol=1e-5)
