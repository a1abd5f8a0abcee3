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
