"""Files that break llama.cpp: named from the header at once, or contained in a child process."""

from __future__ import annotations

import os

import pytest

from probllms_tui.core.errors import ModelLoadError
from probllms_tui.engine.gguf_check import inspect_gguf
from probllms_tui.engine.probe import ProbeCache, ensure_loadable, run_probe


def test_header_check_names_the_known_killers(tiny):
    meta = inspect_gguf(tiny["ok"])
    assert meta["_n_vocab"] == 262 and meta["_has_newline"] and meta["_n_params"] > 0
    with pytest.raises(ModelLoadError, match="truncated GGUF file .*bytes on disk"):
        inspect_gguf(tiny["truncated"])
    with pytest.raises(ModelLoadError, match=r"broken vocabulary: 3 tokens and no newline token '<0x0A>'"):
        inspect_gguf(tiny["three_tokens"])


def test_a_file_that_aborts_llama_cpp_only_ends_the_child(tiny):
    # The 3-token vocabulary makes llama.cpp throw std::out_of_range out of the loader:
    # in-process this would end the app. Here it is one line, and we are still running.
    problem = run_probe(tiny["three_tokens"])
    assert problem.startswith("llama.cpp crashed opening it (SIGABRT)"), problem
    assert "\n" not in problem


def test_probe_says_what_llama_cpp_said_and_caches_it(tiny, tmp_path):
    cache = ProbeCache(tmp_path)
    with pytest.raises(ModelLoadError, match="unknown model architecture: 'frobnicator'"):
        ensure_loadable(tiny["unknown_arch"], cache=cache)
    assert "frobnicator" in cache.get(tiny["unknown_arch"])
    ensure_loadable(tiny["ok"], cache=cache)
    assert cache.get(tiny["ok"]) == ""
    # A changed file (new mtime) is probed again, not trusted from the cache.
    st = tiny["ok"].stat()
    os.utime(tiny["ok"], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert cache.get(tiny["ok"]) is None
