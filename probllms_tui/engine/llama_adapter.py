"""Every private or low-level llama-cpp-python call the engine makes, in one module.

Why the engine goes below ``Llama``: its ``eval`` keeps either no logits or (``logits_all``)
the output layer for every prompt token (Gemma's vocabulary has 262k entries), and ``Llama()``
passes neither ``n_seq_max`` nor ``kv_unified``, which scoring a question's options as
parallel sequences needs. So scoring runs on a second llama.cpp context made here on the
same loaded weights (``llama_context_default_params`` + ``llama_init_from_model``), while
``Llama``'s own context keeps serving generation. When llama-cpp-python changes, this is the
file to fix.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence

import numpy as np

from probllms_tui.core.errors import ModelLoadError

_LOG_SINK = None


def silence_logs() -> None:
    """llama.cpp prints load-time notes to stderr even with verbose=False; drop them so the
    CLI prints one clean line and the TUI's terminal is not scribbled over."""
    global _LOG_SINK
    if _LOG_SINK is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _sink(level, text, user_data):  # noqa: ARG001
        return None

    _LOG_SINK = _sink  # keep a reference: ctypes callbacks must outlive their registration
    llama_cpp.llama_log_set(_sink, ctypes.c_void_p(0))


def max_parallel_sequences() -> int:
    import llama_cpp

    return int(llama_cpp.llama_max_parallel_sequences())


def set_threads(llm, n_threads: int, n_threads_batch: int) -> None:
    """Thread counts of ``Llama``'s own (generation) context."""
    import llama_cpp

    llama_cpp.llama_set_n_threads(llm.ctx, n_threads, n_threads_batch)


class ScoringContext:
    """A llama.cpp context for scoring on the weights ``llm`` already loaded.

    - ``kv_unified``: one KV buffer for all sequences, so prefix cells carrying several
      sequence ids are shared (llama.cpp requires it for such tokens).
    - ``n_batch = n_ctx``: a whole packed batch is one ``llama_decode`` call (llama.cpp splits
      it into ``n_ubatch`` pieces itself).
    - ``swa_full``: Gemma 3's sliding-window layers keep every cell, as in ``Llama``'s context.
    - flash attention off, as ``Llama()`` sets it, so both paths use the same kernels.
    - ``f32_cache``: keys and values in F32 instead of llama.cpp's F16. Only the benchmark's
      precision reference uses it: the engine keeps F16, as generation does.
    """

    def __init__(self, llm, *, n_ctx: int, n_seq_max: int, threads: tuple[int, int],
                 n_ubatch: int = 512, f32_cache: bool = False):
        import llama_cpp

        self._lib = llama_cpp
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_ctx
        params.n_ubatch = min(n_ubatch, n_ctx)
        params.n_seq_max = n_seq_max
        params.kv_unified = True
        params.swa_full = True
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_threads, params.n_threads_batch = threads
        params.no_perf = True
        if f32_cache:
            params.type_k = params.type_v = llama_cpp.GGML_TYPE_F32
        self._ctx = llama_cpp.llama_init_from_model(llm.model, params)
        if not self._ctx:
            raise ModelLoadError("llama.cpp could not create a scoring context")
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self.n_ctx = int(llama_cpp.llama_n_ctx(self._ctx))
        self.n_seq_max = int(llama_cpp.llama_n_seq_max(self._ctx))
        self.n_vocab = int(llm.n_vocab())
        # One batch buffer for the largest decode: up to n_ctx tokens, each with up to
        # n_seq_max sequence ids (a prefix token carries all of its question's options).
        self._batch = llama_cpp.llama_batch_init(self.n_ctx, 0, self.n_seq_max)
        self._cap = self.n_ctx

    def set_threads(self, n_threads: int, n_threads_batch: int) -> None:
        self._lib.llama_set_n_threads(self._ctx, n_threads, n_threads_batch)

    def clear(self) -> None:
        self._lib.llama_memory_clear(self._mem, True)

    def remove_from(self, seq_id: int, pos: int) -> None:
        """Drop ``seq_id``'s cells at positions >= ``pos`` (-1: every sequence)."""
        self._lib.llama_memory_seq_rm(self._mem, seq_id, pos, -1)

    def decode(self, tokens: Sequence[int], pos: Sequence[int], seq_ids: Sequence[Sequence[int]],
               logits: Sequence[bool]) -> np.ndarray:
        """One ``llama_decode``; the logit rows of the flagged tokens, in batch order.

        The returned array is a view of llama.cpp's buffer: valid until the next decode.
        """
        n = len(tokens)
        if n == 0 or n > self._cap:
            raise ValueError(f"batch of {n} tokens; this context takes 1..{self._cap}")
        b = self._batch
        for i in range(n):
            b.token[i] = tokens[i]
            b.pos[i] = pos[i]
            ids = seq_ids[i]
            b.n_seq_id[i] = len(ids)
            row = b.seq_id[i]
            for j, s in enumerate(ids):
                row[j] = s
            b.logits[i] = logits[i]
        b.n_tokens = n
        rc = self._lib.llama_decode(self._ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed ({rc})")
        n_out = sum(1 for x in logits if x)
        ptr = self._lib.llama_get_logits(self._ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.n_vocab))

    def decode_one_sequence(self, tokens: Sequence[int], start: int, logits_from: int) -> np.ndarray:
        """Append ``tokens`` to sequence 0 at positions ``start``...; logit rows for token
        indices >= ``logits_from`` and for the last token."""
        n = len(tokens)
        flags = [i >= logits_from or i == n - 1 for i in range(n)]
        return self.decode(tokens, range(start, start + n), [(0,)] * n, flags)

    def time_prompt(self, tokens: Sequence[int], n_threads: int) -> float:
        """Seconds to decode ``tokens`` as a fresh prompt with ``n_threads`` (the cache is
        cleared before and after): a measurement for choosing thread counts."""
        self.clear()
        self._lib.llama_set_n_threads(self._ctx, n_threads, n_threads)
        t0 = time.perf_counter()
        self.decode_one_sequence(tokens, 0, len(tokens) - 1)
        self._lib.llama_synchronize(self._ctx)
        dt = time.perf_counter() - t0
        self.clear()
        return dt

    def close(self) -> None:
        if getattr(self, "_ctx", None):
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._ctx = None
