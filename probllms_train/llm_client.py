"""The one OpenAI-compatible chat client of probllms-train (corruption backend and bench judge).

``ChatClient.chat(messages)`` posts to ``BASE_URL/chat/completions`` over httpx, retries rate
limits and 5xx with backoff, and, given an ``LLMCache``, answers repeated requests from a
SQLite file (each answer committed as it arrives, so a crashed run resumes where it stopped).
The API key is read from the environment variable the caller names and lives only in the
client's headers: never printed, logged, cached or put in an error message.

Both callers used to carry their own copy, and only one of them retried: a judge run of a few
hundred questions then died on the first HTTP 429.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from probllms_tui.core.errors import InputError, ProbLLMsError, one_line

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class LLMCache:
    """SQLite answers keyed by sha256(backend, model, params, prompt)."""

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


def cache_prompt(messages: list[dict[str, str]]) -> str:
    """What a request is cached under: a lone user message by its text (so caches written
    before system messages existed stay valid), anything else by all its messages."""
    if len(messages) == 1 and messages[0].get("role") == "user":
        return messages[0]["content"]
    return json.dumps(messages, ensure_ascii=False, sort_keys=True)


class ChatClient:
    """POST /chat/completions with retries and an optional cache; ``calls`` counts real requests."""

    backend = "openai"

    def __init__(self, base_url: str, model: str, *, api_key_env: str, key_required: bool = True,
                 params: dict[str, Any] | None = None, cache: LLMCache | None = None, retries: int = 4,
                 timeout_s: float = 120.0, label: str = "chat API"):
        import httpx

        key = os.environ.get(api_key_env, "")
        if key_required and not key:
            raise InputError(f"the OpenAI-compatible backend needs an API key in ${api_key_env}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.params = dict(params or {})
        self.cache = cache
        self.retries = retries
        self.label = label
        self.calls = 0
        # A local server often needs no key: then no Authorization header at all.
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers)

    def chat(self, messages: list[dict[str, str]]) -> str:
        key = None
        if self.cache is not None:
            key = LLMCache.key(self.backend, self.model, self.params, cache_prompt(messages))
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        out = self._post({"model": self.model, "messages": messages, **self.params})
        self.calls += 1
        if key is not None:
            self.cache.put(key, out)
        return out

    def _post(self, body: dict[str, Any]) -> str:
        import httpx

        for attempt in range(self.retries + 1):
            try:
                resp = self._client.post(self.url, json=body)
            except httpx.HTTPError as exc:
                if attempt == self.retries:
                    raise ProbLLMsError(f"{self.label} unreachable at {self.url} ({type(exc).__name__})") from None
            else:
                if resp.status_code == 200:
                    try:
                        return resp.json()["choices"][0]["message"]["content"] or ""
                    except (ValueError, KeyError, IndexError, TypeError):
                        raise ProbLLMsError(f"{self.label} at {self.url} returned an unexpected body: "
                                            f"{one_line(resp.text, 120)}") from None
                if resp.status_code not in RETRY_STATUS or attempt == self.retries:
                    raise ProbLLMsError(f"{self.label} at {self.url} answered HTTP {resp.status_code}: "
                                        f"{one_line(resp.text, 120)}")
            time.sleep(min(30.0, 0.5 * 2 ** attempt))  # backoff on rate limits and 5xx
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._client.close()


__all__ = ["ChatClient", "LLMCache", "RETRY_STATUS", "cache_prompt"]
