"""LLM corruption backends, every call cached on disk.

- ``OpenAICorruptor``: any OpenAI-compatible ``/chat/completions`` endpoint through the
  project's one chat client (``probllms_train/llm_client.py``: retries, key handling).
- ``GGUFCorruptor``: a local GGUF model through the project's engine (``stream_completion``
  on ``render_open_prompt(instruction)``, THE prompt format).

``LLMCache`` (in llm_client.py) is a SQLite file keyed by sha256(backend, model, params, prompt); each answer is
committed as it arrives, so a rerun costs nothing and a crashed run resumes where it stopped.
"""

from __future__ import annotations

import random
from typing import Any

from probllms_tui.core.errors import one_line
from probllms_tui.core.prompt import render_open_prompt

from probllms_train.data.preference.corrupt import CorruptionFailed, instruction
from probllms_train.llm_client import ChatClient, LLMCache


class _CachedLLM:
    """Shared by the LLM backends: instruction -> cache lookup -> call -> store."""

    backend = ""

    def __init__(self, model: str, cache: LLMCache, params: dict[str, Any], instructions: str = "project"):
        self.model = model
        self.cache = cache
        self.params = params
        self.instructions = instructions  # "project" or "report" (corruption.yaml)
        self.name = f"{self.backend}:{model}"
        self.calls = 0

    def corrupt(self, op: str, question: str, answer: str, rng: random.Random) -> str:
        prompt = instruction(op, question, answer, self.instructions)
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

    def __init__(self, model: str, cache: LLMCache, *, base_url: str, api_key_env: str = "OPENAI_API_KEY",
                 temperature: float = 0.7, max_tokens: int = 1024, retries: int = 4, timeout_s: float = 120,
                 instructions: str = "project"):
        super().__init__(model, cache, {"temperature": temperature, "max_tokens": max_tokens},
                         instructions=instructions)
        # The cache is _CachedLLM's (shared with the GGUF backend), so the client gets none.
        self._client = ChatClient(base_url, model, api_key_env=api_key_env, params=self.params,
                                  retries=retries, timeout_s=timeout_s, label="corruption API")
        self.url = self._client.url

    def _call(self, prompt: str) -> str:
        return self._client.chat([{"role": "user", "content": prompt}])

    def close(self) -> None:
        self._client.close()


class GGUFCorruptor(_CachedLLM):
    backend = "gguf"

    def __init__(self, model: str | None, cache: LLMCache, *, max_tokens: int = 512, n_ctx: int = 4096,
                 engine=None, instructions: str = "project"):
        from probllms_tui.engine.load import open_engine

        self._engine = engine or open_engine(model, n_ctx=n_ctx)
        self._owns_engine = engine is None
        super().__init__(self._engine.name, cache, {"max_tokens": max_tokens, "temperature": 0.0},
                         instructions=instructions)

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
