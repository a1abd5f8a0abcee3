"""Length-aware batching: `length_batches`, `saess generate --batching` and the eval runner's batches."""

from __future__ import annotations

import json

import pytest

from saess.attacks import AttackCase
from saess.cli import main
from saess.evaluation.cases import batches
from saess.generation.batching import fits, length_batches
from saess.generation.engine import SafeGenerator
from saess.testing import TinyRegistry, tiny_safety_model


def test_length_batches_keep_a_long_row_apart_and_every_row_once():
    lengths = [30, 32, 6500, 31, 29]
    assert length_batches(lengths, 5) == [[4, 0, 3, 1], [2]]
    assert length_batches(lengths, 2) == [[4, 0], [3, 1], [2]]
    got = length_batches([5, 200, 100, 60, 7, 300, 90], 8, max_ratio=2.0, slack=0)
    assert sorted(i for b in got for i in b) == list(range(7))
    for b in got:  # no batch holds rows more than 2x apart
        ls = [[5, 200, 100, 60, 7, 300, 90][i] for i in b]
        assert fits(min(ls), max(ls), 2.0, 0)
    assert fits(10, 84) and not fits(10, 85)  # 2 x 10 + 64 slack
    with pytest.raises(ValueError):
        length_batches([1], 0)


@pytest.fixture(scope="module")
def tiny():
    return tiny_safety_model("llama", "chatml")


@pytest.mark.parametrize("batching", ["length", "input"])
def test_generate_batches_by_length_and_writes_in_file_order(tmp_path, tiny, monkeypatch, batching):
    prompts = ["Hi there", "Write a poem about the sea.", ("the quick brown fox " * 30).strip(), "How do I bake bread?"]
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    seen = []
    real = SafeGenerator.generate

    def spy(self, ps, *a, **k):
        seen.append([prompts.index(p) for p in ps])
        return real(self, ps, *a, **k)

    monkeypatch.setattr(SafeGenerator, "generate", spy)
    out = tmp_path / "o.jsonl"
    assert main(["-q", "generate", "--model", "tiny", "--prompts", str(src), "--out", str(out), "--batch-size", "4",
                 "--max-new-tokens", "3", "--batching", batching], registry=TinyRegistry(lambda n: tiny)) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4] and [r["prompt"] for r in rows] == prompts
    if batching == "length":
        assert seen == [[0, 3, 1], [2]]  # the long prompt decodes alone
    else:
        assert seen == [[0, 1, 2, 3]]


def _case(prompt: str, i: int) -> AttackCase:
    return AttackCase(prompt, None, {"max_new_tokens": 8, "do_sample": False}, "greedy", "direct", str(i), prompt)


def test_eval_batches_keep_a_long_prompt_apart():
    items = [("direct", _case(p, i)) for i, p in enumerate(["short one", "x" * 5000, "short two", "short three"])]
    got = [[job[0][1].row_id for job in b] for b in batches(items, 8)]
    assert got == [["0", "2", "3"], ["1"]]
