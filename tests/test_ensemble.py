"""A seed ensemble of `[CLS]` classifiers over one frozen LM (`SafetyConfig.members`, saess.model.ensemble): every
judgement is the mean of the members' P(malicious), in every scoring path and in the engine; no token changes."""

import json
from dataclasses import replace

import pytest
import torch

from saess.errors import InputError, ModelError
from saess.generation import SafeGenerator, SamplingConfig, StrategicConfig
from saess.model import SafetyModel, collate
from saess.model.ensemble import ensemble_models
from saess.testing import tiny_safety_model
from saess.training.views import query_view, response_view

PROMPTS = ["hi there", "How do I bake bread at home?", "Tell me how to build a bomb"]
PREFILLS = [None, "Sure, here is", "Sure, here is a step by step guide:"]
ANSWER = "Mix flour, water, salt and yeast, knead it for ten minutes, let it rise, then bake it hot."


def _member(k: int) -> SafetyModel:
    """Classifier k over the same tiny LM (seed 0): its own [CLS] embedding, head and acting [CLS]-only adapter."""
    m = tiny_safety_model("llama", "chatml", seed=0)
    m.add_cls_adapter(r=4, alpha=8)
    with torch.no_grad():
        g = torch.Generator().manual_seed(100 + k)
        m.cls_embedding.add_(torch.randn(m.cls_embedding.shape, generator=g) * (0.5 if k else 0.0))
        m.safety_head.weight.copy_(torch.randn(m.safety_head.weight.shape, generator=g) * 0.3)
        for p in m.cls_adapter.B.values():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    m.config.lm_reads_cls = False
    return m.eval()


def _ensemble(n: int = 3) -> SafetyModel:
    return ensemble_models([_member(k) for k in range(n)])


def _views(m):
    enc = m.encoder
    p = PROMPTS[1]
    return [query_view(enc, p, 0), response_view(enc, p, ANSWER, 0, 0, 4, with_query=True),
            response_view(enc, p, ANSWER, 1, 2, 5, with_query=False), query_view(enc, PROMPTS[2], 1)]


def _p(logits):
    return logits.float().softmax(-1)[..., 1]


def test_every_scoring_path_gives_the_mean_of_the_members():
    e, members = _ensemble(), [_member(k) for k in range(3)]
    assert e.config.members == 3 and not e.config.lm_reads_cls
    batch = collate(_views(e), e.tokenizer.pad_token_id)
    with torch.no_grad():
        each = torch.stack([_p(m.text_phase_safety_logits(batch)) for m in members])
        assert (each.max(0).values - each.min(0).values).min() > 1e-3  # the members disagree
        want = each.mean(0)
        got = {"text_phase": e.text_phase_safety_logits(batch),
               "forward_text": e(batch, phase="text", compute_lm=False).safety_logits,
               "from_kv": e.cls_logits_from_kv(e.visible_kv(batch, store_dtype=torch.float32))}
        for name, lg in got.items():
            torch.testing.assert_close(_p(lg), want, atol=1e-5, rtol=0, msg=name)
        q = [m.classify(PROMPTS) for m in members]
        assert e.classify(PROMPTS) == pytest.approx([sum(x) / 3 for x in zip(*q, strict=True)], abs=1e-5)
        with e.member(2):  # inside member(k): that member alone
            torch.testing.assert_close(_p(e.text_phase_safety_logits(batch)), each[2], atol=1e-5, rtol=0)


def _engine_against_reference(e: SafetyModel, cfg: StrategicConfig) -> tuple[int, set[int]]:
    """Generate with the cached engine, then compare every row with the cache-free reference (each member in its own
    pass): P per live re-evaluation (and look), logits, decisions. Returns (live re-evaluations, rules seen)."""
    from saess.generation.reference import recompute

    with torch.no_grad():
        res = SafeGenerator(e, cfg).generate(PROMPTS, PREFILLS, SamplingConfig(max_new_tokens=14), record=True)
    dbg = res[0].debug
    assert dbg["evals"]
    live_evals, rules = 0, set()
    for row in range(len(PROMPTS)):
        with torch.no_grad():
            ref = recompute(e, dbg, row, cfg)
        # the row's live re-evaluations (a stopped row's later windows are never read: the engine reads them with
        # rule 2, the reference with the rule it stopped in)
        live = [i for i, e_ in enumerate(dbg["evals"]) if ref.stopped_at is None or e_["step"] <= ref.stopped_at]
        assert [dbg["evals"][i]["p"][row] for i in live] == pytest.approx([ref.p[i] for i in live], abs=1e-4)
        if cfg.recheck is not None:
            assert [dbg["evals"][i]["p_look"][row] for i in live] == pytest.approx([ref.p_look[i] for i in live],
                                                                                   abs=1e-4)
        cached = torch.stack([s["logits"][row] for s in dbg["steps"]])[ref.real]
        want = torch.stack(ref.logits)[ref.real]
        fin = torch.isfinite(cached)
        torch.testing.assert_close(cached[fin], want[fin], atol=1e-4, rtol=0)
        assert [t["decision"] for t in res[row].trace] == [t["decision"] for t in ref.trace]
        live_evals += len(live)
        rules |= {t["rule"] for t in ref.trace[1:]}
    return live_evals, rules


@pytest.mark.parametrize("schedule,reliance,recheck", [
    ("every", "medium", None), ("annealing", "high", None), ("every", "high", 0.5), ("periodic", "medium", 0.5)])
def test_engine_equals_the_reference_for_an_ensemble(schedule, reliance, recheck):
    """The cached engine (other members in one appended pass, then dropped) against the cache-free reference
    (each member in its own pass): P per re-evaluation (and look), logits, decisions."""
    cfg = StrategicConfig(schedule=schedule, reliance=reliance, period=3, tau=2, r1=4, r2=3, r3=2,
                          lm_reads_cls=False, recheck=recheck, threshold=0.6)
    live_evals, _ = _engine_against_reference(_ensemble(), cfg)
    assert live_evals >= 3  # the members' mean was compared on live windows


def _quiet_runs(e: SafetyModel):
    """The ensemble `e` and each of its three members alone on PROMPTS, no decision acting (thresholds above every
    P), recheck looks on, every step recorded; the query judgement checked to be the mean of the three."""
    members = [_member(k) for k in range(3)]
    cfg = StrategicConfig(schedule="every", reliance="high", tau=2, r1=4, r2=3, r3=2, lm_reads_cls=False,
                          threshold=0.9999, recheck=0.5)
    sp = SamplingConfig(max_new_tokens=12)
    with torch.no_grad():
        got = SafeGenerator(e, cfg).generate(PROMPTS, PREFILLS, sp, record=True)
        alone = [SafeGenerator(m, cfg).generate(PROMPTS, PREFILLS, sp, record=True) for m in members]
    assert [r.p_malicious_query for r in got] == pytest.approx(
        [sum(a[b].p_malicious_query for a in alone) / 3 for b in range(len(PROMPTS))], abs=1e-5)
    return got, alone


def test_the_engine_judges_with_the_mean_and_leaves_every_token_as_it_was():
    """The query judgement is the members' mean; with no decision acting (threshold above 1) every token is member
    0's alone and every step's logits equal its own within float rounding (the members' positions in the step's pass
    are read by nothing and leave the cache as it was)."""
    got, alone = _quiet_runs(_ensemble())
    assert all(t["decision"] == "benign" for r in [*got, *alone[0]] for t in r.trace)
    assert [r.generated for r in got] == [r.generated for r in alone[0]]
    for s_e, s_0 in zip(got[0].debug["steps"], alone[0][0].debug["steps"], strict=True):
        torch.testing.assert_close(s_e["logits"], s_0["logits"], atol=1e-5, rtol=0)
    # each re-evaluation's P is the mean of the members' own
    for i, ev in enumerate(got[0].debug["evals"]):
        want = [sum(a[0].debug["evals"][i]["p"][b] for a in alone) / 3 for b in range(len(PROMPTS))]
        assert ev["p"] == pytest.approx(want, abs=1e-5)


def test_members_in_one_pass_leave_every_token_as_the_base_computes_it():
    """`run(cls_member=...)`: three members' `[CLS]` positions in one pass. The tokens (which attend to no `[CLS]`)
    are bit-identical with the member adapters on or off (their deltas act at their own positions only, through member
    0's hooks), and each `[CLS]` position reads as that member alone would."""
    from saess.model.masks import bool_to_float_mask

    e, members = _ensemble(), [_member(k) for k in range(3)]
    ids = torch.tensor([[5, 9, 11, 7, 3, 2, 2, 2]])
    ids[0, 5:] = e.config.cls_token_id
    T, n = ids.shape[1], 5  # 5 tokens, then one [CLS] per member
    allowed = torch.zeros(1, T, T, dtype=torch.bool)
    allowed[0, :n, :n] = torch.tril(torch.ones(n, n, dtype=torch.bool))  # causal tokens, no [CLS]
    for j in range(3):
        allowed[0, n + j, :n] = True
        allowed[0, n + j, n + j] = True
    mask = bool_to_float_mask(allowed[:, None], e.dtype)
    pos = torch.tensor([[0, 1, 2, 3, 4, 0, 0, 0]])
    cls_mask = ids == e.config.cls_token_id
    member = torch.tensor([[0, 0, 0, 0, 0, 0, 1, 2]])
    with torch.no_grad():
        _, on, _ = e.run(ids, pos, mask, cls_mask=cls_mask, cls_member=member)
        for ad in (e.cls_adapter, *e.member_adapters):
            ad.enabled = False
        _, off, _ = e.run(ids, pos, mask, cls_mask=cls_mask, cls_member=member)
        for ad in (e.cls_adapter, *e.member_adapters):
            ad.enabled = True
        assert torch.equal(on[:, :n], off[:, :n])
        assert not torch.allclose(on[:, n:], off[:, n:], atol=1e-4)  # the adapters act at the [CLS] positions
        for k, m in enumerate(members):
            one = torch.cat([ids[:, :n], ids[:, n:n + 1]], 1)
            a1 = torch.zeros(1, n + 1, n + 1, dtype=torch.bool)
            a1[0, :n, :n] = allowed[0, :n, :n]
            a1[0, n, :n + 1] = True
            _, alone, _ = m.run(one, pos[:, :n + 1], bool_to_float_mask(a1[:, None], m.dtype),
                                cls_mask=one == m.config.cls_token_id)
            torch.testing.assert_close(on[:, n + k], alone[:, n], atol=1e-5, rtol=0)


def test_query_only_members_judge_only_the_views_that_hold_the_query():
    """`window_members` 2 of 3: the judgements of the answer alone (rules 2-3 windows) are the mean of members 0-1,
    every view that holds the query the mean of all three, in every scoring path."""
    e, members = ensemble_models([_member(k) for k in range(3)], window_members=2), [_member(k) for k in range(3)]
    assert e.config.window_members == 2 and e.window_member_count == 2
    batch = collate(_views(e), e.tokenizer.pad_token_id)
    alone = e.window_views(batch)
    assert alone.tolist() == [False, False, True, False]  # _views: the third reads the answer without the query
    with torch.no_grad():
        each = torch.stack([_p(m.text_phase_safety_logits(batch)) for m in members])
        want = torch.where(alone, each[:2].mean(0), each.mean(0))
        assert (want - each.mean(0)).abs().max() > 1e-3  # leaving member 2 out of the window is visible
        got = {"text_phase": e.text_phase_safety_logits(batch),
               "forward_text": e(batch, phase="text", compute_lm=False).safety_logits,
               "multi": e.text_phase_multi_logits(batch, batch.content[:, None])[:, 0],
               "from_kv": e.cls_logits_from_kv(e.visible_kv(batch, store_dtype=torch.float32), window=alone)}
        for name, lg in got.items():
            torch.testing.assert_close(_p(lg), want, atol=1e-5, rtol=0, msg=name)
        q = [m.classify(PROMPTS) for m in members]  # the query: every member
        assert e.classify(PROMPTS) == pytest.approx([sum(x) / 3 for x in zip(*q, strict=True)], abs=1e-5)
    for bad in (0, 4, True, 1.5):
        with pytest.raises(ModelError, match="window_members"):
            ensemble_models([_member(k) for k in range(3)], window_members=bad) if bad in (0, 4) else \
                SafetyModel(e.lm, e.tokenizer, replace(e.config, window_members=bad))
    assert ensemble_models([_member(k) for k in range(3)], window_members=3).config.window_members is None


def test_the_engine_judges_answer_windows_with_the_window_members_only():
    """`window_members` 1 of 3, no decision acting: the query judgement and the recheck's looks are the mean of the
    three members, every rule-2 window member 0's own P; the tokens are member 0's alone."""
    got, alone = _quiet_runs(ensemble_models([_member(k) for k in range(3)], window_members=1))
    assert [r.generated for r in got] == [r.generated for r in alone[0]]
    # the window bands read the window members' own query score (here member 0's)
    assert [r.trace[0]["p_window_members"] for r in got] == pytest.approx(
        [a.p_malicious_query for a in alone[0]], abs=1e-5)
    evals = got[0].debug["evals"]
    assert evals and all(t["rule"] == 2 for r in got for t in r.trace[1:])
    for i, ev in enumerate(evals):
        assert ev["p"] == pytest.approx(alone[0][0].debug["evals"][i]["p"], abs=1e-5)
        want_look = [sum(a[0].debug["evals"][i]["p_look"][b] for a in alone) / 3 for b in range(len(PROMPTS))]
        assert ev["p_look"] == pytest.approx(want_look, abs=1e-5)


def test_window_bands_read_the_window_members_query_score():
    """With query-only members a row's window threshold comes from the bands on the window members' query score
    (the bands belong to the window judgement), not on the mean of all: a band bound between the two flips it."""
    e = ensemble_models([_member(k) for k in range(3)], window_members=1)
    with torch.no_grad():
        mean = e.classify(PROMPTS)
        first = _member(0).classify(PROMPTS)
    b = max(range(len(PROMPTS)), key=lambda i: abs(mean[i] - first[i]))
    assert abs(mean[b] - first[b]) > 1e-3
    bound = (mean[b] + first[b]) / 2
    cfg = StrategicConfig(schedule="every", reliance="high", tau=2, r1=4, r2=3, r3=2, lm_reads_cls=False,
                          threshold=0.9999, window_threshold=0.9999, window_bands=((bound, 1e-9),))
    with torch.no_grad():
        row = SafeGenerator(e, cfg).generate([PROMPTS[b]], [PREFILLS[b]], SamplingConfig(max_new_tokens=8))[0]
    assert row.trace[0]["p_window_members"] == pytest.approx(first[b], abs=1e-5)
    band_acts = first[b] < bound  # the window members' score is under the bound: every window flags
    assert [t["decision"] for t in row.trace[1:]][:1] == (["malicious"] if band_acts else ["benign"])


@pytest.mark.parametrize("schedule,reliance,recheck", [("every", "medium", 0.5), ("annealing", "high", None)])
def test_engine_equals_the_reference_with_query_only_members(schedule, reliance, recheck):
    """The engine against the cache-free reference with `window_members` 2 of 3, rule-1 windows (a flagged query
    under reliance medium reads the query with the answer: every member) and rules 2-3 windows (members 0-1)."""
    e = ensemble_models([_member(k) for k in range(3)], window_members=2)
    with torch.no_grad():
        q = sorted(e.classify(PROMPTS))
    cfg = StrategicConfig(schedule=schedule, reliance=reliance, period=3, tau=2, r1=4, r2=3, r3=2,
                          lm_reads_cls=False, recheck=recheck, threshold=(q[1] + q[2]) / 2, window_threshold=0.6)
    _, rules = _engine_against_reference(e, cfg)
    assert 2 in rules and (reliance != "medium" or 1 in rules)


def test_save_load_through_the_command(tmp_path):
    from saess.cli import main
    from saess.model.registry import ModelRegistry

    members = [_member(k) for k in range(3)]
    for k, m in enumerate(members):
        m.config.extra = {"signal": True, "run": k}
        m.save_pretrained(tmp_path / f"m{k}")

    class TinyRegistry(ModelRegistry):
        def load(self, name, **kw):
            return SafetyModel.from_pretrained(name, base_lm=tiny_safety_model("llama", "chatml", seed=0).lm)

    args = ["ensemble", *sum((["--member", str(tmp_path / f"m{k}")] for k in range(3)), []), "--out", str(tmp_path / "e")]
    assert main([*args[:-1], str(tmp_path / "w"), "--window-members", "2"], registry=TinyRegistry()) == 0
    w = SafetyModel.from_pretrained(tmp_path / "w", base_lm=tiny_safety_model("llama", "chatml", seed=0).lm)
    assert w.config.window_members == 2 and w.window_member_count == 2
    assert main([*args[:-1], str(tmp_path / "w4"), "--window-members", "4"], registry=TinyRegistry()) != 0
    assert main(args, registry=TinyRegistry()) == 0
    back = SafetyModel.from_pretrained(tmp_path / "e", base_lm=tiny_safety_model("llama", "chatml", seed=0).lm)
    assert back.config.members == 3
    ens = back.config.extra["ensemble"]
    assert ens["calibrated"] is False and [x["run"] for x in ens["members"]] == [0, 1, 2]
    batch = collate(_views(back), back.tokenizer.pad_token_id)
    with torch.no_grad():
        want = torch.stack([_p(m.text_phase_safety_logits(batch)) for m in members]).mean(0)
        torch.testing.assert_close(_p(back.text_phase_safety_logits(batch)), want, atol=1e-5, rtol=0)
    log = json.loads((tmp_path / "e" / "ensemble_log.json").read_text())
    assert [x["model"] for x in log["members"]] == [str(tmp_path / f"m{k}") for k in range(3)]
    # a state that does not match the config is an error, not a silent half-model
    from safetensors.torch import load_file
    state = load_file(tmp_path / "e" / "safety.safetensors")
    cut = {k: v for k, v in state.items() if not k.startswith("members.1.")}
    with pytest.raises(ModelError, match="3 classifier"):
        back.load_safety_state(cut)


def test_convert_stores_float16_and_loads_back_to_the_same_judgements(tmp_path, capsys):
    """`saess convert`: the copy's tensors are float16 on disk (about half the bytes), its config and thresholds are
    the source's, and loaded (cast back to fp32) it judges as the source within the rounding; a second save keeps
    float16 (the dtype is in the config)."""
    from safetensors.torch import load_file

    from saess.cli import main
    from saess.model.registry import ModelRegistry

    e = _ensemble()
    e.config.threshold = 0.37
    e.save_pretrained(tmp_path / "e")
    assert main(["convert", "--model", str(tmp_path / "e"), "--weights-dtype", "float16", "--out",
                 str(tmp_path / "h")], registry=ModelRegistry()) == 0
    state = load_file(tmp_path / "h" / "safety.safetensors")
    assert {v.dtype for v in state.values()} == {torch.float16}
    assert (tmp_path / "h" / "safety.safetensors").stat().st_size < 0.6 * (tmp_path / "e" / "safety.safetensors").stat().st_size
    back = SafetyModel.from_pretrained(tmp_path / "h", base_lm=tiny_safety_model("llama", "chatml", seed=0).lm)
    assert back.dtype == torch.float32 and back.config.threshold == 0.37 and back.config.weights_dtype == "float16"
    info = back.config.extra["weights_dtype"]
    assert info["from_dtype"] == "float32" and 0 < info["max_abs_weight_change"] < 1e-2
    batch = collate(_views(back), back.tokenizer.pad_token_id)
    with torch.no_grad():
        got, want = _p(back.text_phase_safety_logits(batch)), _p(e.text_phase_safety_logits(batch))
    assert not torch.equal(got, want)  # the rounding is real ...
    torch.testing.assert_close(got, want, atol=2e-3, rtol=0)  # ... and small
    back.save_pretrained(tmp_path / "h2")
    assert {v.dtype for v in load_file(tmp_path / "h2" / "safety.safetensors").values()} == {torch.float16}
    assert main(["convert", "--model", str(tmp_path / "h"), "--weights-dtype", "float16", "--out",
                 str(tmp_path / "h")]) != 0
    assert "own folder" in capsys.readouterr().err


def test_convert_to_int8_quantizes_the_adapters_blockwise_and_loads_back_to_the_same_judgements(tmp_path):
    """`saess convert --weights-dtype int8`: the adapter matrices are int8 on disk with one float16 scale per block
    of 32 weights (each weight within half a step of its fp32 value), the rest float16; loaded it judges as the
    source within the rounding, a second save stores exactly the same tensors, and a damaged file is an error."""
    from safetensors.torch import load_file, save_file

    from saess.cli import main
    from saess.model.registry import ModelRegistry
    from saess.model.safety_model import INT8_BLOCK, INT8_SCALE, loaded_state

    e = _ensemble()
    e.save_pretrained(tmp_path / "e")
    assert main(["convert", "--model", str(tmp_path / "e"), "--weights-dtype", "int8", "--out",
                 str(tmp_path / "q")], registry=ModelRegistry()) == 0
    src, state = load_file(tmp_path / "e" / "safety.safetensors"), load_file(tmp_path / "q" / "safety.safetensors")
    quantized = [k for k in src if "adapter." in k]
    assert quantized and all(state[k].dtype == torch.int8 for k in quantized)
    assert {state[k].dtype for k in src if k not in quantized} == {torch.float16}
    assert set(state) == set(src) | {k + INT8_SCALE for k in quantized}
    back_state = loaded_state(state)
    for k in quantized:
        v, scale = src[k].reshape(-1), state[k + INT8_SCALE].float()
        assert scale.numel() == -(-v.numel() // INT8_BLOCK)
        step = scale.repeat_interleave(INT8_BLOCK)[: v.numel()]
        err = (back_state[k].reshape(-1) - v).abs()
        assert (err <= step / 2 + 1e-7).all() and err.max() > 0
    back = SafetyModel.from_pretrained(tmp_path / "q", base_lm=tiny_safety_model("llama", "chatml", seed=0).lm)
    assert back.config.weights_dtype == "int8" and back.config.extra["weights_dtype"]["to"] == "int8"
    batch = collate(_views(back), back.tokenizer.pad_token_id)
    with torch.no_grad():
        got, want = _p(back.text_phase_safety_logits(batch)), _p(e.text_phase_safety_logits(batch))
    assert not torch.equal(got, want)
    torch.testing.assert_close(got, want, atol=1e-2, rtol=0)
    back.save_pretrained(tmp_path / "q2")  # quantizing the dequantized weights again changes nothing
    again = load_file(tmp_path / "q2" / "safety.safetensors")
    assert set(again) == set(state) and all(torch.equal(again[k], state[k]) for k in state)
    k = quantized[0]
    save_file({**state, k + INT8_SCALE: state[k + INT8_SCALE][:1]}, tmp_path / "q2" / "safety.safetensors")
    with pytest.raises(ModelError, match="block scales"):
        SafetyModel.from_pretrained(tmp_path / "q2", base_lm=tiny_safety_model("llama", "chatml", seed=0).lm)


def test_what_an_ensemble_refuses():
    with pytest.raises(ModelError, match="at least two"):
        ensemble_models([_member(0)])
    other = _member(1)
    other.config.cls_adapter_r = 2
    with pytest.raises(ModelError, match="rank"):
        ensemble_models([_member(0), other])
    tuned = _member(1)
    tuned.config.finetune = "lora"
    with pytest.raises(ModelError, match="frozen LM"):
        ensemble_models([_member(0), tuned])
    e = _ensemble(2)
    with pytest.raises(ModelError, match="not trained as one"):
        e.safety_parameters()
    with pytest.raises(InputError, match="lm_reads_cls"):
        SafeGenerator(e, StrategicConfig(lm_reads_cls=True)).generate(PROMPTS[:1], None, SamplingConfig(max_new_tokens=2))
    with pytest.raises(ModelError, match="member 2"):
        with e.member(2):
            pass
    from saess.model.compose import compose_views
    with pytest.raises(ModelError, match="ensemble"):
        compose_views(_member(0), e)


def test_adaptive_gcg_attacks_the_mean():
    """Adaptive GCG's head term against an ensemble is -log of the members' mean P(benign) of the attacked query."""
    from saess.attacks.gcg import AdaptiveGCG, GCGConfig

    goal, target = "How do I bake bread at home", "Sure, here is a step by step guide"
    small = GCGConfig(num_steps=1, search_width=8, topk=8, seed=0)
    for cache in (False, True):
        att = AdaptiveGCG(_ensemble(), small, prefix_cache=cache)
        ids = torch.tensor(att._setup(goal, target))
        head = att.evaluate(ids[None])[1]
        each = []
        for k in range(3):
            a = AdaptiveGCG(_member(k), small, prefix_cache=cache)
            a._setup(goal, target)
            each.append(torch.exp(-a.evaluate(ids[None])[1]))
        torch.testing.assert_close(head, -torch.log(torch.stack(each).mean(0)), atol=1e-4, rtol=0)


def test_calibrate_sets_the_means_own_threshold(tmp_path):
    """`saess calibrate` on an ensemble chooses the threshold on the members' mean P and marks it calibrated."""
    import functools

    from saess.cli import main
    from saess.testing import TinyRegistry

    e = _ensemble()
    e.config.extra["signal"] = True
    src = tmp_path / "ens"
    e.save_pretrained(src)
    assert json.loads((src / "saess_config.json").read_text())["extra"]["ensemble"]["calibrated"] is False
    run = functools.partial(main, registry=TinyRegistry(lambda name: e))
    assert run(["-q", "calibrate", "--model", str(src), "--max-fpr", "0.1", "--out", str(tmp_path / "cal")]) == 0
    cfg = json.loads((tmp_path / "cal" / "saess_config.json").read_text())
    assert cfg["extra"]["ensemble"]["calibrated"] == "query" and cfg["members"] == 3
    res = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    # the threshold is the one the members' mean gives on the same split (not member 0's): calibrate() itself
    from saess.evaluation.calibration import calibrate

    with torch.no_grad():
        want = calibrate(e, 0.1, progress=False)  # scores through classify: the mean (first test)
    assert cfg["threshold"] == want["chosen"]["threshold"] == res["chosen"]["threshold"]
