"""LLM corruption backends, every call cached on disk.

- ``OpenAICorruptor``: any OpenAI-compatible ``/chat/completions`` endpoint over httpx; the
  key is read from an environment variable and never printed, logged or cached.
- ``GGUFCorruptor``: a local GGUF model through the project's engine (``stream_completion``
  on ``render_open_prompt(instruction)``, THE prompt format).

``LLMCache`` is a SQLite file keyed by sha256(backend, model, params, prompt); each answer is
committed as it arrives, so a rerun costs nothing and a crashed run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from probllms_tui.core.errors import InputError, ProbLLMsError, one_line
from probllms_tui.core.prompt import render_open_prompt

from probllms_train.data.preference.corrupt import CorruptionFailed, instruction


class LLMCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)  # guarded by _lock
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS llm_cache (key TEXT PRIMARY KEY, response TEXT NOT NULL)")
        self._db.commit()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(backend: str, model: str, params: dict[str, Any], prompt: str) -> str:
        blob = json.dumps([backend, model, params, prompt], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM llm_cache WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
            return row[0]

    def put(self, key: str, response: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO llm_cache VALUES (?, ?)", (key, response))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _CachedLLM:
    """Shared by the LLM backends: instruction -> cache lookup -> call -> store."""

    backend = ""

    def __init__(self, model: str, cache: LLMCache, params: dict[str, Any]):
        self.model = model
        self.cache = cache
        self.params = params
        self.name = f"{self.backend}:{model}"
        self.calls = 0

    def corrupt(self, op: str, question: str, answer: str, rng: random.Random) -> str:
        prompt = instruction(op, question, answer)
        key = LLMCache.key(self.backend, self.model, self.params, prompt)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        out = self._call(prompt).strip()
        self.calls += 1
        self.cache.put(key, out)
        return out

    def _call(self, prompt: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        pass


class OpenAICorruptor(_CachedLLM):
    backend = "openai"
    RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}

    def __init__(self, model: str, cache: LLMCache, *, base_url: str, api_key_env: str = "OPENAI_API_KEY",
                 temperature: float = 0.7, max_tokens: int = 1024, retries: int = 4, timeout_s: float = 120):
        super().__init__(model, cache, {"temperature": temperature, "max_tokens": max_tokens})
        import httpx

        key = os.environ.get(api_key_env, "")
        if not key:
            raise InputError(f"the OpenAI-compatible backend needs an API key in ${api_key_env}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.retries = retries
        # The key lives only in the client's headers; errors below never include headers.
        self._client = httpx.Client(timeout=timeout_s, headers={"Authorization": f"Bearer {key}"})

    def _call(self, prompt: str) -> str:
        import httpx

        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], **self.params}
        for attempt in range(self.retries + 1):
            try:
                resp = self._client.post(self.url, json=body)
            except httpx.HTTPError as exc:
                if attempt == self.retries:
                    raise ProbLLMsError(f"corruption API unreachable at {self.url} ({type(exc).__name__})") from None
            else:
                if resp.status_code == 200:
                    try:
                        return resp.json()["choices"][0]["message"]["content"] or ""
                    except (ValueError, KeyError, IndexError, TypeError):
                        raise ProbLLMsError(f"corruption API at {self.url} returned an unexpected body: "
                                            f"{one_line(resp.text, 120)}") from None
                if resp.status_code not in self.RETRY_STATUS or attempt == self.retries:
                    raise ProbLLMsError(f"corruption API at {self.url} answered HTTP {resp.status_code}: "
                                        f"{one_line(resp.text, 120)}")
            time.sleep(min(30.0, 0.5 * 2 ** attempt))  # backoff on rate limits and 5xx
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._client.close()


class GGUFCorruptor(_CachedLLM):
    backend = "gguf"

    def __init__(self, model: str | None, cache: LLMCache, *, max_tokens: int = 512, n_ctx: int = 4096,
                 engine=None):
        from probllms_tui.engine.load import open_engine

        self._engine = engine or open_engine(model, n_ctx=n_ctx)
        self._owns_engine = engine is None
        super().__init__(self._engine.name, cache, {"max_tokens": max_tokens, "temperature": 0.0})

    def _call(self, prompt: str) -> str:
        # Greedy (temperature 0): the same model gives the same corruption, cached or not.
        try:
            text = "".join(self._engine.stream_completion(render_open_prompt(prompt),
                                                          max_tokens=self.params["max_tokens"],
                                                          temperature=0.0))
        except ValueError as exc:  # llama.cpp: "Requested tokens (...) exceed context window"
            raise CorruptionFailed(f"gguf backend: {one_line(exc, 80)}") from None
        # A base model keeps going with another "Answer:" turn; the rewrite ends before it.
        return text.split("\nAnswer:", 1)[0]

    def close(self) -> None:
        if self._owns_engine:
            self._engine.close()
