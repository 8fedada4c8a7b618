"""Loading a model that cannot load: one clear ModelLoadError line, never a crash."""

from __future__ import annotations

import pytest

from probllms_tui.core.errors import InputError, ModelLoadError
from probllms_tui.engine import gguf_check
from probllms_tui.engine.llama import LlamaEngine


def load_error(path) -> str:
    with pytest.raises(ModelLoadError) as info:
        LlamaEngine(path, n_ctx=256)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    return message


def test_missing_file(tmp_path):
    assert "not found" in load_error(tmp_path / "nope.gguf")


def test_folder(tmp_path):
    assert "is a folder" in load_error(tmp_path)


def test_not_gguf(tmp_path):
    path = tmp_path / "notes.gguf"
    path.write_text("this is a text file, not a model\n" * 20)
    assert "not a GGUF model file" in load_error(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")
    assert "not a GGUF model file" in load_error(path)


def test_truncated_copy_of_the_default_model(tmp_path, default_gguf):
    path = tmp_path / "truncated.gguf"
    with default_gguf.open("rb") as src:
        path.write_bytes(src.read(10 << 20))
    message = load_error(path)
    assert "truncated" in message or "corrupt" in message


def test_header_only_garbage(tmp_path):
    path = tmp_path / "garbage.gguf"
    path.write_bytes(b"GGUF" + bytes(range(256)) * 8)
    assert "corrupt or truncated" in load_error(path) or "implausible" in load_error(path)


def test_model_too_large_for_memory(monkeypatch, default_gguf):
    monkeypatch.setattr(gguf_check, "_mem_available_bytes", lambda: 64 << 20)
    message = load_error(default_gguf)
    assert "needs about" in message and "GiB" in message


def test_bad_settings_fail_before_loading(default_gguf):
    with pytest.raises(InputError, match="unknown scoring method"):
        LlamaEngine(default_gguf, default_method="vibes")
    with pytest.raises(InputError, match="unknown cloze normalisation"):
        LlamaEngine(default_gguf, cloze_norm="median")
