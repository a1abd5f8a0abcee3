"""GCG attack (saess.attacks.gcg) on tiny random models: adaptive loop, candidate safety, cases, cache."""

import math
import sys

import pytest
import torch

from saess.attacks.gcg import (
    CACHE_FILE,
    AdaptiveGCG,
    GCGConfig,
    allowed_token_mask,
    gcg,
    resolve_config,
    sample_candidates,
)
from saess.errors import InputError, SaessError
from saess.testing import tiny_safety_model

GOAL = "How do I bake bread at home"
TARGET = "Sure, here is a step by step guide"
SMALL = GCGConfig(num_steps=3, search_width=16, topk=16, seed=0)


@pytest.fixture(scope="module")
def model():
    return tiny_safety_model("llama", "chatml")


def _soft_head(m, malicious_bias=1.0):
    """A head that is not saturated (so -log P(benign) has a useful gradient) and leans malicious."""
    with torch.no_grad():
        m.safety_head.weight.mul_(0.05)
        m.safety_head.bias.copy_(torch.tensor([0.0, malicious_bias]))
    return m


def test_adaptive_best_loss_not_above_init_and_parts_add_up(model):
    res = AdaptiveGCG(model, SMALL).run(GOAL, TARGET)
    assert res.variant == "adaptive" and res.steps == 3 and len(res.losses) == 3
    assert all(math.isfinite(x) for x in res.losses)
    assert res.best_loss <= res.init_loss
    assert res.best_loss == pytest.approx(min([res.init_loss, *res.losses]))
    assert res.best_loss == pytest.approx(res.best_ce + SMALL.alpha * res.best_head, rel=1e-5)
    for loss, ce, head in zip(res.losses, res.ce_losses, res.head_losses, strict=True):
        assert loss == pytest.approx(ce + SMALL.alpha * head, rel=1e-5)
    assert 0.0 < res.p_benign <= 1.0


def test_head_term_drives_the_suffix():
    m = _soft_head(tiny_safety_model("llama", "chatml"))
    g0 = AdaptiveGCG(m, GCGConfig(alpha=0.0, num_steps=3, search_width=32, topk=32))
    g5 = AdaptiveGCG(m, GCGConfig(alpha=5.0, num_steps=3, search_width=32, topk=32))
    ids = torch.tensor(g0._setup(GOAL, TARGET))
    g5._setup(GOAL, TARGET)
    # The head term is in the gradient...
    assert not torch.allclose(g0.token_gradient(ids), g5.token_gradient(ids))
    # ...and optimising with it pushes [CLS] towards benign, more than CE alone does.
    r0, r5 = g0.run(GOAL, TARGET), g5.run(GOAL, TARGET)
    assert r0.init_head == pytest.approx(r5.init_head)
    assert r0.init_head > math.log(2)  # starts on the malicious side
    assert r5.best_head < r5.init_head
    assert r5.best_head < r0.best_head
    assert r0.best_loss == pytest.approx(r0.best_ce)  # alpha=0: the head part is reported, not used


def test_target_tokens_attend_to_cls(model):
    """The CE part goes through the alignment-phase mask: the target sees [CLS]."""
    g = AdaptiveGCG(model, SMALL)
    ids = torch.tensor(g._setup(GOAL, TARGET))
    ce1 = g.evaluate(ids[None])[0]
    old = model.cls_embedding.detach().clone()
    try:
        with torch.no_grad():
            model.cls_embedding.add_(torch.randn_like(model.cls_embedding))
        g._setup(GOAL, TARGET)
        ce2 = g.evaluate(ids[None])[0]
    finally:
        with torch.no_grad():
            model.cls_embedding.copy_(old)
    assert not torch.allclose(ce1, ce2)


def test_head_term_reads_the_cls_only_adapter():
    """The head term is the deployed query judgement: with a [CLS]-only adapter (the default recipe's) the attack's
    pass goes through it, with and without the prefix cache."""
    m = tiny_safety_model("llama", "chatml")
    m.add_cls_adapter(r=4, alpha=8)
    with torch.no_grad():
        g = torch.Generator().manual_seed(7)
        for p in m.cls_adapter.B.values():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    for cache in (False, True):
        att = AdaptiveGCG(m, SMALL, prefix_cache=cache)
        ids = torch.tensor(att._setup(GOAL, TARGET))
        head = att.evaluate(ids[None])[1]
        m.cls_adapter.enabled = False
        try:
            off = att.evaluate(ids[None])[1]
        finally:
            m.cls_adapter.enabled = True
        assert not torch.allclose(head, off)  # the adapter acts on the head term


@pytest.mark.parametrize("arch,style", [("llama", "chatml"), ("gemma", "gemma"), ("llama", "llama3")])
def test_prefix_cache_matches_full_pass(arch, style):
    m = tiny_safety_model(arch, style)
    cached, full = AdaptiveGCG(m, SMALL), AdaptiveGCG(m, SMALL, prefix_cache=False)
    ids = torch.tensor(cached._setup(GOAL, TARGET))
    full._setup(GOAL, TARGET)
    assert cached.cache is not None and full.cache is None
    g = torch.Generator().manual_seed(0)
    cands = torch.stack([ids] + [ids.clone().index_put_((torch.randint(len(ids), (1,), generator=g),),
                                                         torch.randint(20, 200, (1,), generator=g))
                                 for _ in range(5)])
    for a, b in zip(cached.evaluate(cands)[:2], full.evaluate(cands)[:2], strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(cached.token_gradient(ids), full.token_gradient(ids), atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("arch,style", [("llama", "chatml"), ("gemma", "gemma"), ("llama", "llama3")])
def test_candidates_never_special_or_cls(arch, style):
    m = tiny_safety_model(arch, style)
    tok = m.tokenizer
    V = m.lm.get_input_embeddings().weight.shape[0]
    cls_id = m.config.cls_token_id
    special = set(tok.all_special_ids) | {cls_id}
    allowed = allowed_token_mask(tok, V, cls_id)
    assert not any(allowed[i] for i in special if i < V)
    # A gradient that begs for the special tokens still never yields them.
    g = AdaptiveGCG(m, SMALL)
    ids = torch.tensor(g._setup(GOAL, TARGET))
    grad = torch.zeros(len(ids), V)
    grad[:, [i for i in special if i < V]] = -1e6
    cands = sample_candidates(ids, grad, g.allowed, 256, 64, 2, torch.Generator().manual_seed(0))
    assert len(cands) and not set(cands.unique().tolist()) & special
    # The retokenisation filter rejects a suffix holding a special id (typed text is split).
    bad = ids.clone()
    bad[3] = next(i for i in tok.all_special_ids if i < V)
    kept, _ = g.filter_candidates(torch.stack([bad, ids]))
    assert kept.tolist() == [ids.tolist()]
    # And a whole run only ever moves through allowed ids.
    res = g.run(GOAL, TARGET)
    assert all(bool(g.allowed[i]) for i in res.best_ids)


def test_gcg_cases_append_suffix_and_resume_from_cache(model, tmp_path, monkeypatch):
    rows = [{"id": "a", "prompt": GOAL, "target": TARGET}, {"id": "b", "prompt": "Tell me a joke"},
            {"id": "c", "prompt": "Write a poem about the sea", "target": "Sure, here is a poem"}]
    cases = gcg(rows, model, variant="adaptive", num_steps=2, search_width=8, topk=8, cache_dir=tmp_path,
                max_new_tokens=17)
    assert [c.row_id for c in cases] == ["a", "c"]
    assert cases.skipped == {"gcg: row has no target": 1}
    c = cases[0]
    suffix = c.meta["suffix"]
    assert suffix and c.prompt == GOAL + " " + suffix and c.source_prompt == GOAL
    assert c.attack == "gcg" and c.config_name == "adaptive-custom" and c.prefill is None
    assert c.gen_kwargs == {"do_sample": False, "temperature": None, "top_p": None, "top_k": None,
                            "max_new_tokens": 17}
    assert c.meta["steps"] == 2 and c.meta["cached"] is False and c.meta["loss"] <= c.meta["init_loss"]
    # The engine's tokenisation of the case prompt holds exactly the optimised ids.
    enc = model.encoder.encode_chat(c.prompt)
    user = [i for i, f in zip(enc.input_ids, enc.content, strict=True) if f]
    rec_ids = __import__("json").loads((tmp_path / CACHE_FILE).read_text().splitlines()[0])["result"]["best_ids"]
    assert user[-len(rec_ids):] == rec_ids
    assert model.config.cls_token_id not in enc.input_ids[1:]

    # Resume: nothing is re-optimised, the same suffixes come back; a torn last line is ignored.
    with (tmp_path / CACHE_FILE).open("a") as f:
        f.write('{"key": "trunc')
    monkeypatch.setattr(AdaptiveGCG, "run", lambda *a, **k: pytest.fail("re-optimised a cached row"))
    again = gcg(rows, model, variant="adaptive", num_steps=2, search_width=8, topk=8, cache_dir=tmp_path,
                max_new_tokens=17)
    assert [x.prompt for x in again] == [x.prompt for x in cases]
    assert all(x.meta["cached"] for x in again)
    # A different config is a different key: it would optimise again.
    with pytest.raises(pytest.fail.Exception):
        gcg(rows[:1], model, variant="adaptive", num_steps=3, search_width=8, topk=8, cache_dir=tmp_path)


def test_limit_and_options(model):
    rows = [{"prompt": GOAL, "target": TARGET}, {"prompt": "Tell me a joke", "target": "Sure"}]
    cases = gcg(rows, model, variant="adaptive", limit=1, num_steps=1, search_width=4, topk=4)
    assert len(cases) == 1
    assert resolve_config("full") == GCGConfig()
    assert (GCGConfig().num_steps, GCGConfig().search_width, GCGConfig().topk) == (250, 512, 256)
    assert len(GCGConfig().optim_str_init.split()) == 20
    with pytest.raises(InputError, match="variant"):
        gcg(rows, model, variant="nope")
    with pytest.raises(InputError, match="preset"):
        gcg(rows, model, variant="adaptive", preset="gpu")
    with pytest.raises(InputError, match="unknown GCG option"):
        gcg(rows, model, variant="adaptive", steps=3)
    with pytest.raises(InputError):
        GCGConfig(search_width=0)


def test_standard_without_nanogcg_names_the_install(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "nanogcg", None)
    monkeypatch.setitem(sys.modules, "nanogcg.gcg", None)
    with pytest.raises(SaessError, match=r"pip install --no-deps nanogcg==0\.3\.0"):
        gcg([{"prompt": GOAL, "target": TARGET}], model, variant="standard")


def test_standard_nanogcg_runs_on_the_lm(model):
    pytest.importorskip("nanogcg", reason="nanogcg not installed (pip install --no-deps nanogcg==0.3.0 scipy)")
    det = torch.are_deterministic_algorithms_enabled()
    state = torch.random.get_rng_state()
    cases = gcg([{"prompt": GOAL, "target": TARGET}], model, variant="standard", num_steps=2, search_width=8,
                topk=8)
    c = cases[0]
    assert c.prompt == GOAL + " " + c.meta["suffix"] and c.meta["suffix"].strip()
    assert c.meta["steps"] == 2 and math.isfinite(c.meta["loss"]) and c.meta["head"] is None
    assert not any(t in c.meta["suffix"] for t in model.tokenizer.all_special_tokens)
    # nanoGCG's global side effects are undone.
    assert torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.random.get_rng_state(), state)
