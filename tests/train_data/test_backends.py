"""Corruption backends: an OpenAI-compatible stub server on 127.0.0.1 and the default GGUF."""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from probllms_tui.core.errors import InputError, ProbLLMsError
from probllms_train.data.preference.backends import GGUFCorruptor, LLMCache, OpenAICorruptor
from probllms_train.data.preference.build import build_preference, write_preference
from probllms_train.data.preference.corrupt import instruction
from probllms_train.data.preference.recipe import CorruptionSpec, PreferenceRecipe, SourceSpec

SECRET = "sk-test-secret-123"


class Stub:
    """An OpenAI-compatible /v1/chat/completions that rewrites the answer it is given."""

    def __init__(self):
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.fail_after: int | None = None   # answer HTTP 400 after this many calls (a "crash")
        self.status_sequence: list[int] = []  # statuses to answer first (e.g. [429])
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.auth.append(self.headers.get("Authorization", ""))
                if stub.status_sequence:
                    return self._send(stub.status_sequence.pop(0), {"error": "slow down"})
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": "no such path"})
                if stub.fail_after is not None and len(stub.requests) >= stub.fail_after:
                    return self._send(400, {"error": "budget exhausted"})
                stub.requests.append(body)
                prompt = body["messages"][0]["content"]
                answer = prompt.split("Answer to rewrite:", 1)[1].strip()
                op = prompt.split()[3]  # "...answer below so that it leaves out..." -> a marker word
                self._send(200, {"choices": [{"message": {"role": "assistant",
                                                          "content": f"{answer} [{op}]"}}]})

            def _send(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setenv("STUB_KEY", SECRET)
    s = Stub()
    yield s
    s.close()


def _recipe(fixtures: Path, stub: Stub, cache: Path, workers: int = 1) -> PreferenceRecipe:
    return PreferenceRecipe(
        student=[SourceSpec(name="student", path=str(fixtures / "student.json"))],
        qa=[SourceSpec(name="camel-math", path=str(fixtures / "camel.jsonl"))],
        corruption=CorruptionSpec(backend="openai", model="stub-model", base_url=stub.url,
                                  api_key_env="STUB_KEY", cache=str(cache), workers=workers),
        tokenizer="words")


def test_openai_backend_two_ops_cached_and_key_never_written(stub, tmp_path, fixtures):
    cache = tmp_path / "cache.sqlite"
    out = tmp_path / "out"
    build = build_preference(_recipe(fixtures, stub, cache, workers=3), out)
    write_preference(build, out)
    assert len(stub.requests) == 2 * 6 == build.llm_calls  # two of three ops per Camel example
    assert set(stub.auth) == {f"Bearer {SECRET}"}
    assert all(r["model"] == "stub-model" for r in stub.requests)
    assert build.report["corruption_backend"] == "openai:stub-model"
    camel = [p for p in build.train if p.source == "camel-math"]
    assert len(camel) == 6
    for p in camel:
        assert p.rejected.startswith(p.chosen) and p.rejected.count(" [") == 2
    # every file the run wrote, the cache included, is free of the key
    for f in [*out.iterdir(), cache]:
        assert SECRET.encode() not in f.read_bytes()

    again = tmp_path / "again"
    stub.requests.clear()
    build2 = build_preference(_recipe(fixtures, stub, cache), again)
    write_preference(build2, again)
    assert stub.requests == [] and build2.llm_calls == 0 and build2.cache_hits == 12
    assert (out / "train.jsonl").read_bytes() == (again / "train.jsonl").read_bytes()


def test_crash_mid_run_resumes_from_the_cache(stub, tmp_path, fixtures):
    cache = tmp_path / "cache.sqlite"
    stub.fail_after = 5
    with pytest.raises(ProbLLMsError, match="HTTP 400") as err:
        build_preference(_recipe(fixtures, stub, cache), tmp_path / "o")
    assert SECRET not in str(err.value)
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0] == 5  # each answer committed
    stub.fail_after = None
    stub.requests.clear()
    build = build_preference(_recipe(fixtures, stub, cache), tmp_path / "o")
    assert len(stub.requests) == 12 - 5 and build.cache_hits == 5


def test_rate_limit_is_retried(stub, tmp_path):
    stub.status_sequence = [429]
    c = OpenAICorruptor("m", LLMCache(tmp_path / "c.sqlite"), base_url=stub.url, api_key_env="STUB_KEY")
    import random

    out = c.corrupt("INSERT", "Why?", "Because.", random.Random(0))
    c.close()
    assert out.startswith("Because.") and len(stub.auth) == 2


def test_missing_key_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(InputError, match=r"\$NO_SUCH_KEY_VAR"):
        OpenAICorruptor("m", LLMCache(tmp_path / "c.sqlite"), base_url="http://127.0.0.1:9/v1",
                        api_key_env="NO_SUCH_KEY_VAR")


def test_cache_key_separates_backend_model_and_prompt():
    k = LLMCache.key
    base = k("openai", "m", {"t": 1}, "p")
    assert base == k("openai", "m", {"t": 1}, "p")
    assert len({base, k("gguf", "m", {"t": 1}, "p"), k("openai", "m2", {"t": 1}, "p"),
                k("openai", "m", {"t": 2}, "p"), k("openai", "m", {"t": 1}, "p2")}) == 5


@pytest.mark.slow
def test_gguf_backend_on_the_default_model(default_engine, tmp_path):
    import random

    cache = LLMCache(tmp_path / "c.sqlite")
    c = GGUFCorruptor(None, cache, max_tokens=8, engine=default_engine)
    out = c.corrupt("SUBSTITUTE", "What is 2 + 2?", "2 + 2 = 4.", random.Random(0))
    assert isinstance(out, str) and c.calls == 1 and c.name == f"gguf:{default_engine.name}"
    again = c.corrupt("SUBSTITUTE", "What is 2 + 2?", "2 + 2 = 4.", random.Random(1))
    assert again == out and c.calls == 1 and cache.hits == 1  # greedy + cached: no second generation
    key = LLMCache.key("gguf", default_engine.name, c.params, instruction("SUBSTITUTE", "What is 2 + 2?", "2 + 2 = 4."))
    assert cache.get(key) == out
    c.close()  # the shared session engine stays open: GGUFCorruptor did not open it
    assert default_engine.count_tokens("still open") > 0
    cache.close()
