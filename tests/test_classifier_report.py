import math

import pytest

from saess.evaluation.calibration import choose_threshold
from saess.evaluation.classifier import auroc


def test_auroc_known_values():
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5
    assert auroc([0.9, 0.3], [0.5, 0.1]) == pytest.approx(0.75)
    assert math.isnan(auroc([], [0.1]))


def test_choose_threshold_meets_the_fpr_budget():
    neg, pos = [0.1, 0.2, 0.3, 0.9], [0.95, 0.5, 0.31]
    t = choose_threshold(pos, neg, 0.25)
    assert 0.3 < t < 0.31 and sum(s >= t for s in neg) == 1 and all(s >= t for s in pos)
    t0 = choose_threshold(pos, neg, 0.0)
    assert 0.9 < t0 < 0.95 and not any(s >= t0 for s in neg)
    with pytest.raises(ValueError):
        choose_threshold([], neg, 0.1)


def test_calibrate_writes_a_copy_with_the_threshold(tmp_path, capsys):
    import functools
    import json

    from saess.cli import main
    from saess.testing import TinyRegistry, tiny_safety_model

    m = tiny_safety_model("llama", "chatml", seed=3)
    m.config.extra["signal"] = True
    src = tmp_path / "model"
    m.save_pretrained(src)
    main = functools.partial(main, registry=TinyRegistry(lambda name: m))  # the saved folder loads as `m`
    out = tmp_path / "calibrated"
    assert main(["-q", "calibrate", "--model", str(src), "--max-fpr", "0.1", "--out", str(out)]) == 0
    res = json.loads((out / "calibration.json").read_text())
    cfg = json.loads((out / "saess_config.json").read_text())
    assert cfg["threshold"] == res["chosen"]["threshold"] and 0 < cfg["threshold"] < 1
    assert res["chosen"]["fpr"] <= 0.1 and res["n_benign"] > 50 and res["n_malicious"] > 50
    assert cfg["extra"]["calibration"]["from"] == str(src)
    u = res["utility"]  # the guard of a choice: no adapter, no [CLS] read by answers -> the base's loss exactly
    assert u["n"] > 50 and u["benign_answer_lm_loss_trained"] != u["benign_answer_lm_loss_base"]
    both = res["utility_by_lm_reads_cls"]  # what --lm-reads-cls on / off would give; on is the model's own
    assert both["on"] == u and both["off"]["relative_change"] == 0.0
    assert json.loads((src / "saess_config.json").read_text())["threshold"] == 0.5  # original untouched
    capsys.readouterr()
    # bad input: one line each
    assert main(["-q", "calibrate", "--model", str(src), "--max-fpr", "1.5", "--out", str(tmp_path / "x")]) == 2
    assert "--max-fpr must be in (0, 1)" in capsys.readouterr().err
    assert main(["-q", "calibrate", "--model", str(src), "--out", str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert main(["-q", "calibrate", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "y")]) == 2
    assert "not a saved saess model folder" in capsys.readouterr().err
    m.config.extra["signal"] = False
    assert main(["-q", "calibrate", "--model", str(src), "--out", str(tmp_path / "z")]) == 2
    assert "no trained safety signal" in capsys.readouterr().err


def test_window_spans_follow_the_annealing_schedule_and_rule_3():
    from saess.evaluation.calibration import _window_spans
    from saess.generation import StrategicConfig

    cfg = StrategicConfig()  # annealing steps 1, 3, 6, 10, 16, 24, 36, 54, ...; r2 = r3 = 10, tau 2
    # step 16: rule 2 reads [6, 16); S = 15; at step 24 rule 3 reads [5, 25] as far as written: [5, 24)
    # (the engine's trace for this case: [6, 15] then [5, 23], inclusive)
    assert _window_spans(40, cfg) == [((0, 1), (0, 3)), ((0, 3), (0, 6)), ((0, 6), (0, 10)), ((0, 10), (0, 16)),
                                      ((6, 16), (5, 24)), ((14, 24), (13, 34))]
    assert _window_spans(2, cfg) == []  # no re-evaluation after the first inside the answer
    assert _window_spans(40, StrategicConfig(schedule="first")) == []
    assert _window_spans(40, StrategicConfig(tau=1))[-1] == ((26, 36),)
    assert _window_spans(40, StrategicConfig(tau=3))[-1] == ((6, 16), (5, 24), (5, 26))


def test_answer_window_scores_are_max_of_min_over_rule_2_3_pairs():
    import torch

    from saess.evaluation.calibration import _window_spans, answer_window_scores
    from saess.generation import StrategicConfig
    from saess.model.tokens import collate
    from saess.testing import tiny_safety_model
    from saess.training.views import response_view

    m = tiny_safety_model("llama", "chatml", seed=5)
    prompt = "Tell me about the history of bread."
    answer = " ".join(["Bread is one of the oldest foods and people baked it in many places."] * 4)
    cfg = StrategicConfig(schedule="periodic", period=12)
    enc = m.encoder
    n = len(enc.encode_chat(prompt, answer, label=0, close_response=False)) - len(enc.encode_chat(prompt))
    spans = _window_spans(n, cfg)
    assert len(spans) >= 2

    def p(a, b):
        batch = collate([response_view(enc, prompt, answer, 0, a, b - a, with_query=False)], m.tokenizer.pad_token_id)
        with torch.no_grad():
            return m.text_phase_safety_logits(batch).float().softmax(-1)[0, 1].item()

    want = max(min(p(*w) for w in ws) for ws in spans)
    got = answer_window_scores(m, [(prompt, answer), (prompt, "Yes.")], cfg, batch_size=3)
    assert got[0] == pytest.approx(want, abs=1e-5) and got[1] == 0.0
    one = answer_window_scores(m, [(prompt, answer)], StrategicConfig(schedule="periodic", period=12, tau=1))
    assert one[0] == pytest.approx(max(p(*ws[0]) for ws in spans), abs=1e-5)


def test_calibrate_window_threshold_from_answers(tmp_path, capsys):
    import functools
    import json

    from saess.cli import main
    from saess.data.recipes import RecipeConfig, build_recipe
    from saess.testing import TinyRegistry, tiny_safety_model

    m = tiny_safety_model("llama", "chatml", seed=3)
    m.config.extra["signal"] = True
    m.config.window_bands = [[0.05, 0.99]]  # chosen for the old thresholds: the calibrated copy drops them
    src = tmp_path / "model"
    m.save_pretrained(src)
    main = functools.partial(main, registry=TinyRegistry(lambda name: m))
    val = [e.prompt for e in build_recipe(RecipeConfig(seed=0))["alignment_val"] if e.label == 0][:12]
    answers = tmp_path / "retain.jsonl"
    text = "Here is a short and careful answer that explains the idea step by step for you. " * 3
    answers.write_text("".join(json.dumps({"prompt": p, "response": text}) + "\n" for p in val)
                       + json.dumps({"prompt": "not in the split", "response": text}) + "\n")
    out = tmp_path / "cal"
    assert main(["-q", "calibrate", "--model", str(src), "--window-answers", str(answers), "--window-max-fpr", "0.1",
                 "--out", str(out)]) == 0
    res = json.loads((out / "calibration.json").read_text())["windows"]
    cfg = json.loads((out / "saess_config.json").read_text())
    assert cfg["window_threshold"] == res["chosen"]["threshold"] and 0 < cfg["window_threshold"] < 1
    assert json.loads((src / "saess_config.json").read_text())["window_bands"] == [[0.05, 0.99]]
    assert cfg["window_bands"] is None
    assert res["n_benign_answers"] == 12 and res["ignored_answers"] == 1  # the row outside the split
    assert res["chosen"]["fpr"] <= 0.1 and res["n_harmful_answers"] > 10
    capsys.readouterr()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": val[0], "response": text}) + "\n{not json\n")
    assert main(["-q", "calibrate", "--model", str(src), "--window-answers", str(bad), "--out", str(tmp_path / "b")]) == 2
    assert f"{bad}:2: not a JSON object" in capsys.readouterr().err and not (tmp_path / "b").exists()
    assert main(["-q", "calibrate", "--model", str(src), "--window-answers", str(tmp_path / "none.jsonl"),
                 "--out", str(tmp_path / "c")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_utility_row_compares_with_the_base_lm_and_sees_a_changed_one():
    """`utility_row`: the base's loss is the LM with its adapters off (equal to a fresh copy of the base),
    and a changed LM (v11w's, session 11: +198%) shows in the relative change."""
    import torch

    from saess.evaluation.classifier import utility_row
    from saess.testing import tiny_safety_model

    def make():  # a tiny LM whose output reads its hidden state (a random init's logits are ~0 whatever it is)
        m = tiny_safety_model("llama", "chatml", seed=3)
        m.config.extra["signal"] = False
        with torch.no_grad():
            m.lm.get_output_embeddings().weight.mul_(100)
        return m

    fresh = make()
    want = utility_row(fresh)
    assert want["relative_change"] == 0.0  # no signal read, no adapter: the model is its base
    m = make()
    m.add_lora(r=2, alpha=4, dropout=0.0)
    with torch.no_grad():
        for n, p in m.lm.named_parameters():
            if "lora_" in n:
                p.normal_(0, 1.0)  # a broken LM
    got = utility_row(m)
    assert got["benign_answer_lm_loss_base"] == pytest.approx(want["benign_answer_lm_loss_base"], rel=1e-6)
    assert abs(got["relative_change"]) > 0.05  # the change is measured (its sign is the random LoRA's)


def test_utility_rows_follow_lm_reads_cls():
    """The utility rows (classifier-report, signal-report, calibrate's guard) score answers as the model
    writes them: reading [CLS] with a trained signal and lm_reads_cls on, not at all otherwise (v11wh's
    signal report read it although its answers never do: +431% for an LM equal to the base's)."""
    from saess.evaluation.classifier import answers_read_cls
    from saess.testing import tiny_safety_model

    m = tiny_safety_model("llama", "chatml")
    m.config.extra["signal"] = True
    assert answers_read_cls(m) is True
    m.config.lm_reads_cls = False
    assert answers_read_cls(m) is False
    m.config.lm_reads_cls = True
    m.config.extra["signal"] = False
    assert answers_read_cls(m) is False


def test_calibration_uses_the_split_the_model_was_trained_on(monkeypatch):
    """The validation split is the recipe's of the model's split seed: --recipe-seed when given (a replication run with
    another --seed), else the run's --seed; a model without a pipeline record: 0."""
    from types import SimpleNamespace

    import saess.evaluation.calibration as cal
    monkeypatch.setattr(cal, "build_recipe", lambda rc: {"seed": rc.seed})
    for pipe, want in [({"train": {"seed": 1}, "recipe_seed": 0}, 0), ({"train": {"seed": 2}, "recipe_seed": None}, 2),
                       ({"train": {"seed": 3}}, 3), ({}, 0)]:
        m = SimpleNamespace(config=SimpleNamespace(extra={"pipeline": pipe}))
        assert cal._validation_recipe(m) == (want, {"seed": want})
