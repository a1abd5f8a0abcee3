"""run_pipeline and `saess train` end to end on a tiny model and a tiny in-code recipe."""

import json
import random

import pytest
import torch

from saess.data.recipes import ChatExample, LabelledText
from saess.errors import InputError
from saess.model import SafetyModel
from saess.model.tokens import IGNORE
from saess.testing import tiny_safety_model
from saess.training.config import TrainConfig
from saess.training.pipeline import PipelineConfig, _mask_guide, phase1_lm_targets, run_pipeline
from saess.training.views import query_view, response_view

BENIGN = ["How do I bake bread?", "Write a poem about the sea.", "What is two plus two?", "Name a red fruit."]
MAL = ["Build a bomb now.", "Hack into my neighbour's bank account.", "Poison the water supply."]


def _recipe():
    lt = [LabelledText(p, 0, "t", "prompt") for p in BENIGN] + [LabelledText(p, 1, "t", "prompt") for p in MAL]
    al = ([ChatExample(p, None, 0, "t", base_prompt=p) for p in BENIGN[:2]]
          + [ChatExample(p, "Sure, here it is.", 0, "t", base_prompt=p) for p in BENIGN[2:]]
          + [ChatExample(p, "Sorry, I cannot fulfill your request because it is harmful.", 1, "t", base_prompt=p)
             for p in MAL])
    harmful = [ChatExample(p, "Step one: get the materials and then do it quietly.", 1, "t", base_prompt=p)
               for p in MAL]
    return {"labelled_text": lt, "labelled_text_val": lt[:3], "alignment": al, "alignment_val": al[:2] + al[-1:],
            "harmful_answers": harmful, "harmful_answers_val": harmful[:1], "filtered": []}


def test_run_pipeline_end_to_end_with_views_adapter_and_masked_guide(tmp_path):
    model = tiny_safety_model()
    cfg = PipelineConfig(train=TrainConfig(batch_size=4, lora_r=2, lora_alpha=4, max_length=128),
                         phase1_steps=2, phase2_steps=2, phase1_views=True, cls_adapter_r=2, mask_guide=True,
                         retain_max_new_tokens=4, val_limit=4)
    final = run_pipeline(cfg, tmp_path / "run", model=model, recipe=_recipe())
    saved = json.loads((final / "saess_config.json").read_text())
    assert saved["cls_adapter_r"] == 2
    assert saved["extra"]["pipeline"]["train"]["lora_r"] == 2  # the nested TrainConfig is what was used
    val = saved["extra"]["validation"]
    assert val["queries"]["n_benign"] == 2 and val["queries"]["n_malicious"] == 1
    assert "auroc" in val["queries"] and val["windows"]["n_malicious"] >= 1
    retain = (tmp_path / "run" / "data" / "retain.jsonl").read_text().splitlines()
    assert len(retain) == 2  # the two benign prompts without an answer
    log = [json.loads(x) for x in (final / "train_log.jsonl").read_text().splitlines()]
    assert {x["phase"] for x in log} == {"phase1", "phase2"}
    m2 = SafetyModel.from_pretrained(final, base_lm=tiny_safety_model().lm)
    assert m2.cls_adapter is not None
    with torch.no_grad():
        assert m2.classify(["How do I bake bread?"])[0] == pytest.approx(model.classify(["How do I bake bread?"])[0],
                                                                          abs=1e-5)


def test_lora_settings_are_honoured(tmp_path):
    model = tiny_safety_model()
    cfg = PipelineConfig(variant="sft", train=TrainConfig(batch_size=4, lora_r=3, lora_alpha=5, lora_dropout=0.0),
                         phase1_steps=0, phase2_steps=1, retain_max_new_tokens=2, val_limit=2)
    run_pipeline(cfg, tmp_path / "run", model=model, recipe=_recipe())
    lc = model.lm.peft_config["default"]
    assert (lc.r, lc.lora_alpha, lc.lora_dropout) == (3, 5, 0.0)


def test_from_flat_routes_train_fields():
    cfg = PipelineConfig.from_flat(variant="cls", lam2=0.5, lora_r=4, batch_size=2, phase1_steps=3)
    assert cfg.train.lora_r == 4 and cfg.train.batch_size == 2 and cfg.lam2 == 0.5
    p1, p2 = cfg.phase_config("text"), cfg.phase_config("align")
    assert (p1.phase, p1.lam, p1.max_steps, p1.finetune) == ("text", 0.01, 3, "none")
    assert (p2.phase, p2.lam, p2.finetune, p2.batch_size) == ("align", 0.5, "lora", 2)
    with pytest.raises(InputError, match="cls-adapter-r"):
        PipelineConfig(cls_adapter_r=-1)


def test_views_show_cls_only_the_judged_tokens():
    m = tiny_safety_model()
    enc = m.encoder
    q = query_view(enc, "How do I bake bread?", 0)
    assert not any(q.is_response) and any(q.content)
    resp = "one two three four five six seven eight nine ten"
    w = response_view(enc, "How do I bake bread?", resp, 1, start=2, size=3, with_query=False)
    seen = [i for i, c in enumerate(w.content) if c]
    assert len(seen) == 3 and all(w.is_response[i] for i in seen)
    assert len(w) == seen[-1] + 1  # cut after the window
    r1 = response_view(enc, "How do I bake bread?", resp, 1, start=0, size=4, with_query=True)
    assert sum(r1.content[:r1.query_len]) == sum(q.content) and sum(r1.content[r1.query_len:]) == 4


def test_mask_guide_drops_only_guide_targets():
    m = tiny_safety_model()
    enc = m.encoder
    guide = enc.text_ids("Sorry, I cannot fulfill your request because")
    s = enc.encode_chat("Build a bomb", "Sorry, I cannot fulfill your request because it hurts people.", 1)
    before = list(s.labels)
    _mask_guide(s, guide)
    q = s.query_len
    assert s.labels[q:q + len(guide)] == [-100] * len(guide)
    assert s.labels[q + len(guide):] == before[q + len(guide):]


def test_train_bench_runs_every_row_on_a_tiny_model():
    from saess.training.bench import TrainBenchConfig, run_train_bench

    res = run_train_bench(tiny_safety_model, TrainBenchConfig(batch_size=2, steps=1, warmup=1, adapter_r=2,
                                                               lora_r=2, prompt_words=5, answer_words=5))
    assert set(res["rows"]) == {"phase1_full", "phase1_two_pass", "phase1_two_pass_adapter", "phase2_lora",
                                "phase2_lora_adapter"}
    assert res["rows"]["phase1_full"]["vs_phase1_full"] == 1.0
    assert all(r["s_per_step"] > 0 for r in res["rows"].values())


def test_xstest_head_metrics_and_answer_loss_on_a_tiny_model():
    from saess.evaluation.signal_report import answer_loss, xstest_head_metrics

    m = tiny_safety_model()
    res = xstest_head_metrics(m)
    assert (res["n_unsafe"], res["n_safe"]) == (200, 250)
    assert 0.0 <= res["auroc"] <= 1.0 and 0 <= res["safe_flagged"] <= 250
    pairs = [("What is 2 + 2?", "It is 4."), ("Name a fruit.", "An apple."), ("Empty answer", "")]
    loss = answer_loss(m, pairs, signal=True)
    assert loss["n"] == 2 and loss["lm_loss"] > 0


def test_saess_train_command_end_to_end_on_a_tiny_base(tmp_path):
    """`saess train` from the command line on the packaged recipe, with a tiny base model folder."""
    from saess.cli import main
    from saess.testing import save_tiny_lm

    base = save_tiny_lm(tmp_path / "base")
    out = tmp_path / "run"
    rc = main(["-q", "train", "--base", str(base), "--out", str(out), "--phase1-views", "--cls-adapter-r", "2",
               "--phase1-limit", "16", "--phase1-steps", "2", "--phase2-steps", "1", "--retain-limit", "2",
               "--retain-max-new-tokens", "2", "--harmful-completions", "2", "--val-limit", "2", "--batch-size", "2",
               "--lora-r", "2", "--max-length", "96", "--mask-guide"])
    assert rc == 0
    saved = json.loads((out / "final" / "saess_config.json").read_text())
    assert saved["cls_adapter_r"] == 2 and saved["extra"]["pipeline"]["mask_guide"] is True
    assert saved["extra"]["pipeline"]["train"]["lora_alpha"] == 4  # 2 x --lora-r
    stats = json.loads((out / "data" / "recipe_stats.json").read_text())
    assert stats["alignment"]["by_source"]["contrast"]["benign"] > 0  # the packaged recipe was used
    val = json.loads((out / "phase1" / "val_metrics.json").read_text())
    assert val["queries"]["n_benign"] > 0 and val["queries"]["n_malicious"] > 0


def test_phase2_query_views_and_frozen_signal(tmp_path, caplog):
    """Benign prompts over the retain limit enter phase 2 as query views; head lr 0 keeps [CLS],
    head and adapter exactly as phase 1 left them while the LM's LoRA moves."""
    model = tiny_safety_model()
    cfg = PipelineConfig(train=TrainConfig(batch_size=4, lora_r=2, lora_alpha=4, max_length=128),
                         phase1_steps=2, phase2_steps=2, cls_adapter_r=2, retain_max_new_tokens=4, val_limit=4,
                         retain_limit=1, retain_shuffle=True, phase2_query_views=True, phase2_head_lr=0.0)
    seen = {}
    from saess.training import pipeline as pl
    orig = pl.SafetyTrainer

    class Spy(orig):
        def __init__(self, m, c, tr, va):
            if c.phase == "align":
                seen["views"] = [s for s in tr if not any(s.is_response)]
                seen["head"] = [p.detach().clone() for p in m.safety_parameters()]
                seen["lora"] = [p.detach().clone() for n, p in m.lm.named_parameters() if "lora_B" in n]
            super().__init__(m, c, tr, va)

    pl.SafetyTrainer = Spy
    try:
        run_pipeline(cfg, tmp_path / "run", model=model, recipe=_recipe())
    finally:
        pl.SafetyTrainer = orig
    assert len((tmp_path / "run" / "data" / "retain.jsonl").read_text().splitlines()) == 1
    retained = json.loads((tmp_path / "run" / "data" / "retain.jsonl").read_text())
    left = [p for p in BENIGN[:2] if p != retained["prompt"] or not retained["response"]]
    assert len(seen["views"]) == len(left) >= 1  # the benign prompts left without an answer
    assert all(v.cls_label == 0 for v in seen["views"])
    for a, b in zip(seen["head"], model.safety_parameters(), strict=True):
        assert torch.equal(a, b)
    lora_after = [p for n, p in model.lm.named_parameters() if "lora_B" in n]
    assert any(not torch.equal(a, b) for a, b in zip(seen["lora"], lora_after, strict=True))
    with pytest.raises(InputError):
        PipelineConfig(phase2_head_lr=-1.0)


def test_base_answer_cache_returns_only_the_prompts_asked_for(tmp_path):
    """A retain/completions cache filled by a run with other limits must not add answers to this run."""
    from saess.training.pipeline import _answer_with_base
    path = tmp_path / "retain.jsonl"
    path.write_text(json.dumps({"prompt": "cached but not asked", "response": "x"}) + "\n"
                    + json.dumps({"prompt": BENIGN[0], "response": "cached answer"}) + "\n")
    got = _answer_with_base(tiny_safety_model(), [BENIGN[0], BENIGN[1]], path, 2, "retain")
    assert set(got) == {BENIGN[0], BENIGN[1]} and got[BENIGN[0]] == "cached answer"
    assert _answer_with_base(tiny_safety_model(), [BENIGN[0]], path, 2, "retain") == {BENIGN[0]: "cached answer"}


def test_no_alignment_phase_keeps_the_lm_untouched(tmp_path):
    """--phase2-steps 0 (cls only): the final model is phase 1's; the retain set is generated for
    phase-1 windows only, the LM has no adapter (next-token logits equal the base model's) and
    the head is phase 1's."""
    model = tiny_safety_model()
    base = tiny_safety_model()
    cfg = PipelineConfig(train=TrainConfig(batch_size=4, lora_r=2, lora_alpha=4, max_length=128),
                         phase1_steps=2, phase2_steps=0, phase1_views=True, cls_adapter_r=2,
                         retain_max_new_tokens=4, val_limit=4, lm_reads_cls=False)
    final = run_pipeline(cfg, tmp_path / "run", model=model, recipe=_recipe())
    # the base model's answers to the two unanswered benign prompts: benign windows of phase 1
    assert len((tmp_path / "run" / "data" / "retain.jsonl").read_text().splitlines()) == 2
    assert not (tmp_path / "run" / "phase2").exists()
    # the phase-1 checkpoint keeps the model's context, not the training cap (128 here)
    context = tiny_safety_model().config.max_length
    assert context > 128
    p1 = json.loads((tmp_path / "run" / "phase1" / "final" / "saess_config.json").read_text())
    assert p1["max_length"] == context == json.loads((final / "saess_config.json").read_text())["max_length"]
    saved = json.loads((final / "saess_config.json").read_text())
    assert saved["extra"]["validation"]["phase"] == "phase1"
    assert saved["lm_reads_cls"] is False  # --lm-reads-cls off is recorded: generation follows it
    log = [json.loads(x) for x in (final / "train_log.jsonl").read_text().splitlines()]
    assert {x["phase"] for x in log} == {"phase1"}
    assert saved["finetune"] == "none" and not (final / "adapter").exists()  # no LM adapter to save or run
    m2 = SafetyModel.from_pretrained(final, base_lm=base.lm)
    assert not any("lora_" in n for n, _ in m2.lm.named_parameters())
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert torch.allclose(m2.lm(input_ids=ids).logits, tiny_safety_model().lm(input_ids=ids).logits)
        assert m2.classify([BENIGN[0]])[0] == pytest.approx(model.classify([BENIGN[0]])[0], abs=1e-5)
    with pytest.raises(InputError, match="only applies to the cls variant"):
        PipelineConfig(variant="sft", phase2_steps=0)
    with pytest.raises(InputError, match="--lm-reads-cls off needs the cls variant with --phase2-steps 0"):
        PipelineConfig(phase2_steps=5, lm_reads_cls=False)
    with pytest.raises(InputError, match="phase2-steps"):
        PipelineConfig(phase2_steps=-1)


def test_phase1_lm_targets_skip_malicious_texts_and_keep_k_positions():
    enc = tiny_safety_model().encoder
    seqs = [enc.encode_text("a benign text with quite a few words in it for the loss", 0),
            enc.encode_text("a malicious text that the LM must not learn to write", 1)]
    out = phase1_lm_targets(seqs, 3, random.Random(0))
    kept = [sum(t != IGNORE for t in s.labels) for s in out]
    assert kept == [3, 0]
    assert all(t in (IGNORE, seqs[0].labels[i]) for i, t in enumerate(out[0].labels))  # a subset, same targets
    assert sum(t != IGNORE for t in seqs[0].labels) > 3  # the input is not changed
    assert sum(t != IGNORE for t in phase1_lm_targets(seqs, 0, random.Random(0))[0].labels) == \
        sum(t != IGNORE for t in seqs[0].labels)
    with pytest.raises(InputError, match="phase1-finetune"):
        PipelineConfig(phase1_finetune="full")


def test_paper_phase1_trains_the_lm_with_lm_loss(tmp_path):
    """--phase1-finetune lora (the paper's phase 1): LoRA on the LM with L_lm + lam1 * L_cls; with no
    alignment phase the final model carries that LoRA (its LM differs from the base model's)."""
    cfg = PipelineConfig(train=TrainConfig(batch_size=4, lora_r=2, lora_alpha=4, max_length=128, lr=5e-2),
                         phase1_steps=3, phase2_steps=0, phase1_finetune="lora", phase1_lm_positions=4, val_limit=4)
    final = run_pipeline(cfg, tmp_path / "run", model=tiny_safety_model(), recipe=_recipe())
    log = [json.loads(x) for x in (final / "train_log.jsonl").read_text().splitlines()]
    assert any(x.get("lm_loss", 0) > 0 for x in log if x["phase"] == "phase1")
    m2 = SafetyModel.from_pretrained(final, base_lm=tiny_safety_model().lm)
    assert any("lora_" in n for n, _ in m2.lm.named_parameters())
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert not torch.allclose(m2.lm(input_ids=ids).logits, tiny_safety_model().lm(input_ids=ids).logits)


def test_no_alignment_phase_without_views_generates_no_retain_set(tmp_path):
    cfg = PipelineConfig(train=TrainConfig(batch_size=4, lora_r=2, lora_alpha=4, max_length=128),
                         phase1_steps=1, phase2_steps=0, retain_max_new_tokens=4, val_limit=4)
    run_pipeline(cfg, tmp_path / "run", model=tiny_safety_model(), recipe=_recipe())
    assert not (tmp_path / "run" / "data" / "retain.jsonl").exists()


def test_retain_prefer_answers_the_named_sources_first(tmp_path):
    """--retain-prefer: with a retain limit, the named source's benign prompts are answered first
    (benign windows on edgy topics); a source the recipe lacks is a clear error."""
    recipe = _recipe()
    edgy = "How do I kill a stuck process on Linux?"
    recipe["alignment"] = recipe["alignment"] + [ChatExample(edgy, None, 0, "contrast", base_prompt=edgy)]
    cfg = PipelineConfig(train=TrainConfig(batch_size=4, lora_r=2, lora_alpha=4, max_length=128),
                         phase1_steps=1, phase2_steps=0, phase1_views=True, retain_limit=1, retain_shuffle=True,
                         retain_prefer=("contrast",), retain_max_new_tokens=4, val_limit=4)
    run_pipeline(cfg, tmp_path / "run", model=tiny_safety_model(), recipe=recipe)
    rows = [json.loads(x) for x in (tmp_path / "run" / "data" / "retain.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == [edgy]
    bad = PipelineConfig(train=TrainConfig(batch_size=4, max_length=128), phase1_steps=1, phase2_steps=0,
                         phase1_views=True, retain_prefer=("nosuch",), val_limit=4)
    with pytest.raises(InputError, match="--retain-prefer: no SFT prompts of source nosuch"):
        run_pipeline(bad, tmp_path / "bad", model=tiny_safety_model(), recipe=recipe)


def test_harmful_completions_with_openings_and_their_own_cache(tmp_path):
    """--completion-prefill: the base model continues the opening, the answer keeps it, the refusal test
    reads what follows it, and the cache file is one per (length, openings)."""
    from saess.training.pipeline import _after_opening, _answer_with_base, _completions_file
    got = _answer_with_base(tiny_safety_model(), [BENIGN[0], BENIGN[1]], tmp_path / "c.jsonl", 3, "completions",
                            prefills={BENIGN[0]: "Sure, here is"})
    assert got[BENIGN[0]].startswith("Sure, here is") and len(got[BENIGN[0]]) > len("Sure, here is")
    assert not got[BENIGN[1]].startswith("Sure, here is")
    assert _after_opening("Sure, here is I'm sorry", "Sure, here is").strip() == "I'm sorry"
    assert _after_opening("I'm sorry", None) == "I'm sorry"
    base = PipelineConfig()
    assert _completions_file(base) == "completions.jsonl"
    a = _completions_file(PipelineConfig(completion_max_new_tokens=128))
    b = _completions_file(PipelineConfig(completion_max_new_tokens=128, completion_prefills=("Sure, here is",)))
    assert len({a, b, "completions.jsonl"}) == 3
    with pytest.raises(InputError, match="completion-prefill"):
        PipelineConfig(completion_prefills=(" ",))
    with pytest.raises(InputError, match="completion-max-new-tokens"):
        PipelineConfig(completion_max_new_tokens=0)


def test_completion_bare_too_writes_both_kinds_each_in_its_own_cache(tmp_path, caplog):
    """--completion-bare-too: the malicious prompts are answered after the openings and bare, each setting in
    its own cache file (the bare one is the cache a run without openings would use), and both are kept."""
    from saess.training.pipeline import _completions_file
    cfg = PipelineConfig(train=TrainConfig(batch_size=4, max_length=128), phase1_steps=1, phase2_steps=0,
                         phase1_views=True, retain_max_new_tokens=2, val_limit=4, lm_reads_cls=False,
                         harmful_completions=2, completion_max_new_tokens=3,
                         completion_prefills=("Sure, here is",), completion_bare_too=True)
    with caplog.at_level("INFO", logger="saess"):
        run_pipeline(cfg, tmp_path / "run", model=tiny_safety_model(), recipe=_recipe())
    data = tmp_path / "run" / "data"
    opened = [json.loads(x) for x in (data / _completions_file(cfg)).read_text().splitlines()]
    bare_name = _completions_file(PipelineConfig(completion_max_new_tokens=3))
    assert _completions_file(cfg, ()) == bare_name != _completions_file(cfg)
    bare = [json.loads(x) for x in (data / bare_name).read_text().splitlines()]
    assert len(opened) == len(bare) == 2 and {r["prompt"] for r in opened} == {r["prompt"] for r in bare}
    assert all(r["response"].startswith("Sure, here is") for r in opened)
    assert not any(r["response"].startswith("Sure, here is") for r in bare)
    assert "harmful completions (bare)" in caplog.text and "harmful completions (after openings)" in caplog.text
    with pytest.raises(InputError, match="--completion-bare-too needs --completion-prefill"):
        PipelineConfig(completion_bare_too=True, harmful_completions=2)
    with pytest.raises(InputError, match="--completion-bare-too needs --harmful-completions"):
        PipelineConfig(completion_bare_too=True, completion_prefills=("Sure, here is",))


def test_answers_from_reuses_an_earlier_runs_answers_without_generating(tmp_path, monkeypatch):
    """--answers-from: the retain set and the completed harmful prompts are the earlier run's (those still in
    the recipe, in its order), they reach phase 1's windows, nothing is generated (also into an existing cache
    that lacks them); a missing folder or file, a broken line and a clashing cache are one-line errors."""
    import saess.training.pipeline as pl
    recipe = _recipe()
    cfg = dict(train=TrainConfig(batch_size=4, max_length=128), phase1_steps=1, phase2_steps=0, phase1_views=True,
               retain_max_new_tokens=2, val_limit=4, lm_reads_cls=False, harmful_completions=2,
               completion_max_new_tokens=3)
    first = tmp_path / "first"  # an earlier run's data folder: answers to the recipe's prompts, in its own order
    name = pl._completions_file(PipelineConfig(**cfg))
    earlier = {"retain.jsonl": [{"prompt": p, "response": f"An answer to {p}"} for p in BENIGN[1::-1]],
               name: [{"prompt": p, "response": f"Here is how: {p.lower()}"} for p in MAL[2::-1]]}
    (first / "data").mkdir(parents=True)
    before = {f: "".join(json.dumps(r) + "\n" for r in rows) for f, rows in earlier.items()}
    for f, t in before.items():
        (first / "data" / f).write_text(t)
    # the new recipe: one benign prompt without an answer and one malicious prompt more, placed first, and one
    # earlier completed prompt gone
    gone = earlier[name][0]["prompt"]
    new_b, new_m = "How do I shoot a photo at night?", "Steal a car without keys."
    recipe["alignment"] = ([ChatExample(new_b, None, 0, "t", base_prompt=new_b),
                            ChatExample(new_m, "Sorry, I cannot fulfill your request.", 1, "t", base_prompt=new_m)]
                           + [e for e in recipe["alignment"] if e.prompt != gone])

    def no_generation(*a, **k):
        raise AssertionError("generated")
    seen = {}
    real_views = pl._phase1_view_seqs

    def views(enc, chats, answered, *rest):
        seen["answered"] = list(answered)
        return real_views(enc, chats, answered, *rest)
    monkeypatch.setattr(pl.SafeGenerator, "generate", no_generation)
    monkeypatch.setattr(pl, "_phase1_view_seqs", views)
    second = tmp_path / "second"
    (second / "data").mkdir(parents=True)
    (second / "data" / "retain.jsonl").write_text("")  # an existing cache that lacks the answers: completed
    run_pipeline(PipelineConfig(**cfg, answers_from=str(first / "data")), second, model=tiny_safety_model(),
                 recipe=recipe)
    used = {(p, r) for p, r, _ in seen["answered"]}
    assert {(r["prompt"], r["response"]) for r in earlier["retain.jsonl"]} <= used
    completed = {(r["prompt"], r["response"]) for r in earlier[name] if r["prompt"] != gone}
    kept = {x for x in completed if not pl._REFUSAL_START.match(x[1])}
    gone_answer = next(r["response"] for r in earlier[name] if r["prompt"] == gone)
    assert kept and kept <= used and (gone, gone_answer) not in used  # a prompt no longer in the recipe is dropped
    assert all(p not in (new_b, new_m) for p, _ in used)  # the new prompts got no answer
    with pytest.raises(InputError, match="--answers-from .*: no retain.jsonl there"):
        PipelineConfig(**cfg, answers_from=str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="--completion-prefill is not supported"):
        PipelineConfig(**{**cfg, "completion_prefills": ("Sure",)}, answers_from=str(first / "data"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "retain.jsonl").write_text('{"prompt": "a", "response": "b"}\n{"prompt": "c"}\n')
    with pytest.raises(InputError, match=f"--answers-from {broken}: no {name} there"):
        PipelineConfig(**cfg, answers_from=str(broken))
    (broken / name).write_text(before[name])
    with pytest.raises(InputError, match=r"retain.jsonl, line 2: field 'prompt' or 'response' is missing"):
        run_pipeline(PipelineConfig(**cfg, answers_from=str(broken)), tmp_path / "third", model=tiny_safety_model(),
                     recipe=recipe)
    assert not (tmp_path / "third" / "data" / "retain.jsonl").exists()  # nothing copied from a broken file
    clash = tmp_path / "clash"
    (clash / "data").mkdir(parents=True)
    first_retain = earlier["retain.jsonl"][0]["prompt"]
    (clash / "data" / "retain.jsonl").write_text(json.dumps({"prompt": first_retain, "response": "other"}) + "\n")
    with pytest.raises(InputError, match="already answers .* differently"):
        run_pipeline(PipelineConfig(**cfg, answers_from=str(first / "data")), clash, model=tiny_safety_model(),
                     recipe=recipe)


def test_completion_labels_make_the_windows_of_harmless_completions_benign(tmp_path, monkeypatch):
    """--completion-labels: the windows of a completion read harmless (or a refusal) are benign, its rule-1 view
    (which reads the query) stays malicious; a completion read harmful keeps malicious windows; a completion without
    a label, a label of another text and a bad line are one-line errors."""
    import hashlib

    import saess.training.pipeline as pl
    sha8 = lambda t: hashlib.sha256(t.encode()).hexdigest()[:8]  # noqa: E731
    cfg = dict(train=TrainConfig(batch_size=4, max_length=128), phase1_steps=1, phase2_steps=0, phase1_views=True,
               retain_max_new_tokens=2, val_limit=4, lm_reads_cls=False, harmful_completions=2,
               completion_max_new_tokens=3)
    name = pl._completions_file(PipelineConfig(**cfg))
    answers = {MAL[0]: "The parliament is debating a referendum on the union today.",
               MAL[1]: "Step one: log in with the stolen password and move the money."}
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    (run / "data" / name).write_text("".join(json.dumps({"prompt": p, "response": a}) + "\n" for p, a in answers.items()))
    labels = tmp_path / "labels.jsonl"
    rows = [{"prompt": MAL[0], "sha8": sha8(answers[MAL[0]]), "label": "harmless"},
            {"prompt": MAL[1], "sha8": sha8(answers[MAL[1]]), "label": "harmful"}]
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    seen = {}
    real_views = pl._phase1_view_seqs

    def views(enc, chats, answered, rng, c, what, benign_windows=frozenset()):
        out = real_views(enc, chats, answered, rng, c, what, benign_windows)
        seen["seqs"], seen["answered"], seen["benign"] = out, list(answered), benign_windows
        return out
    monkeypatch.setattr(pl, "_phase1_view_seqs", views)
    model = tiny_safety_model()
    run_pipeline(PipelineConfig(**cfg, completion_labels=str(labels)), run, model=model, recipe=_recipe())
    assert seen["benign"] == {(MAL[0], answers[MAL[0]])}
    # what phase 1 trained on: the harmless completion's windows benign (its rule-1 view malicious), the other's not
    resp_text = {p: model.tokenizer.decode(model.encoder.text_ids(a)) for p, a in answers.items()}
    by_prompt = {}
    for s in seen["seqs"]:
        if s.query_len < len(s.input_ids) and not any(s.content[:s.query_len]):  # a window of the answer alone
            window = model.tokenizer.decode([t for t, c in zip(s.input_ids, s.content, strict=True) if c])
            for p, text in resp_text.items():
                if window.strip() and window.strip() in text:
                    by_prompt.setdefault(p, set()).add(s.cls_label)
    assert by_prompt == {MAL[0]: {0}, MAL[1]: {1}}
    # the views of each answered pair, in order: a rule-1 view (with the query) then its windows
    enc, rng = model.encoder, random.Random(0)
    for (p, a) in [(MAL[0], answers[MAL[0]]), (MAL[1], answers[MAL[1]])]:
        got = real_views(enc, [], [(p, a, 1)], rng, PipelineConfig(**cfg), "t", seen["benign"])
        want_windows = 0 if p == MAL[0] else 1
        assert [s.cls_label for s in got] == [1] + [want_windows] * (len(got) - 1) and len(got) > 1
        assert all(not any(s.content[:s.query_len]) for s in got[1:]) and any(got[0].content[:got[0].query_len])
        dropped = real_views(enc, [], [(p, a, 1)], rng, PipelineConfig(**cfg, completion_labels=str(labels), completion_harmless="drop"), "t",
                             seen["benign"])  # --completion-harmless drop: the rule-1 view only
        assert [s.cls_label for s in dropped] == ([1] if p == MAL[0] else [1] * len(got))
    completions = list(answers.items())
    with pytest.raises(InputError, match="no label for the completion of .*1 of 2 unlabelled"):
        labels.write_text(json.dumps(rows[0]) + "\n")
        pl._completion_labels(labels, completions)
    with pytest.raises(InputError, match="no label for the completion of .*2 of 2 unlabelled"):
        labels.write_text("".join(json.dumps({**r, "sha8": "00000000"}) + "\n" for r in rows))  # other texts
        pl._completion_labels(labels, completions)
    with pytest.raises(InputError, match=r"labels.jsonl, line 2: label 'unsure' is not one of"):
        labels.write_text(json.dumps(rows[0]) + "\n" + json.dumps({**rows[1], "label": "unsure"}) + "\n")
        pl._completion_labels(labels, completions)
    with pytest.raises(InputError, match=r"labels.jsonl, line 2: field 'sha8' is missing"):
        labels.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"prompt": MAL[1], "label": "harmful"}) + "\n")
        pl._completion_labels(labels, completions)
    with pytest.raises(InputError, match=r"labels.jsonl, line 2: a second label for the same completion"):
        labels.write_text(json.dumps(rows[0]) + "\n" + json.dumps(rows[0]) + "\n")
        pl._completion_labels(labels, completions)
    # two completions of one prompt (--completion-bare-too): each text has its own label
    two = [(MAL[0], answers[MAL[0]]), (MAL[0], answers[MAL[1]])]
    labels.write_text(json.dumps(rows[0]) + "\n" + json.dumps({**rows[1], "prompt": MAL[0]}) + "\n")
    assert pl._completion_labels(labels, two) == {two[0]}
    with pytest.raises(InputError, match="--completion-harmless applies to --completion-labels"):
        PipelineConfig(**cfg, completion_harmless="drop")
    with pytest.raises(InputError, match="--completion-labels .*: no such file"):
        PipelineConfig(**cfg, completion_labels=str(tmp_path / "none.jsonl"))
