"""saess.runtime: the helpers every command shares (dtype, device, batch-then-one-by-one, atomic JSONL)."""

import json

import pytest
import torch

from saess.errors import InputError
from saess.runtime import AtomicJsonl, batch_then_one_by_one, error_text, resolve_device, torch_dtype


def test_dtype_and_device():
    assert torch_dtype("bfloat16") is torch.bfloat16 and torch_dtype(torch.float16) is torch.float16
    with pytest.raises(InputError, match="unknown dtype 'fp8'; expected one of float32, bfloat16, float16"):
        torch_dtype("fp8")
    assert resolve_device("cuda:1") == "cuda:1"
    assert resolve_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")


def test_batch_then_one_by_one_isolates_the_bad_item():
    calls, told = [], []

    def fn(items):
        calls.append(list(items))
        if "bad" in items:
            raise InputError("bad item\nsecond line")
        return [x.upper() for x in items]

    outs = batch_then_one_by_one(fn, ["a", "bad", "c"], on_batch_error=told.append)
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]] and len(told) == 1
    assert [(o.result, o.error) for o in outs] == [("A", None), (None, "bad item second line"), ("C", None)]
    assert all(o.seconds >= 0 for o in outs)
    calls.clear()
    outs = batch_then_one_by_one(fn, ["a", "c"])  # no failure: one call
    assert calls == [["a", "c"]] and [o.result for o in outs] == ["A", "C"]


def test_batch_then_one_by_one_only_retries_what_it_is_told_to():
    def fn(items):
        raise KeyError("not an input problem")

    with pytest.raises(KeyError):
        batch_then_one_by_one(fn, [1, 2], retry_on=InputError)
    assert error_text(KeyError("k")) == "KeyError: 'k'"
    with pytest.raises(RuntimeError, match="2 results for 3 items"):
        batch_then_one_by_one(lambda items: items[:2], [1, 2, 3])


def test_atomic_jsonl_keeps_the_old_file_when_a_run_fails(tmp_path):
    out = tmp_path / "o.jsonl"
    with AtomicJsonl(out) as f:
        f.write({"a": 1})
    assert json.loads(out.read_text()) == {"a": 1}
    with pytest.raises(ValueError), AtomicJsonl(out) as f:
        f.write({"a": 2})
        raise ValueError("killed")
    assert json.loads(out.read_text()) == {"a": 1} and not (tmp_path / "o.jsonl.part").exists()
