"""LlamaEngine: MCQ scoring and explanation streaming over llama-cpp-python.

Scoring methods
- ``letter``: the seed layout ends in ``Answer:``; the probability of each option is the
  model's next-token probability of `` A``, `` B``, ... renormalised over the options.
- ``cloze``: the log-likelihood of each option's own text after ``Question: ...\\nAnswer:``,
  normalised by its length in tokens (a long option is not punished for being long), the
  way lm-evaluation-harness scores ARC. The question is evaluated once; each option then
  evaluates only its own tokens on top of the cached prefix.

Why the engine decodes batches itself: ``Llama.eval`` either keeps no logits or (with
``logits_all``) computes the output layer for every prompt token. Gemma's vocabulary has
262k entries, so logits for a 300-token prompt cost ~50 GFLOP and 300 MB for nothing. We ask
llama.cpp for logits only at the positions scoring needs, through the same ``_batch``/``_ctx``
objects ``Llama.eval`` uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from probllms_tui.core.chat import ChatTemplate, strip_markers
from probllms_tui.core.errors import InputError, ModelLoadError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import (
    CLOZE_UNCONDITIONAL_PREFIX,
    EXPLANATION_STOPS,
    STOP_SEQUENCES,
    Passage,
    cloze_continuation,
    explanation_messages,
    letter_continuation,
    render_cloze_prefix,
    render_explanation_prompt,
    render_letter_prompt,
)
from probllms_tui.core.registry import DEFAULT_CLOZE_NORM, DEFAULT_SCORING
from probllms_tui.engine.base import METHODS, OptionScorer
from probllms_tui.engine.cloze import CLOZE_NORMS, OptionLikelihood, normalise
from probllms_tui.engine.gguf_check import check_gguf
from probllms_tui.engine.threads import choose_threads


_LOG_SINK = None


def _silence_llama_logs() -> None:
    """llama.cpp prints load-time notes to stderr even with verbose=False; drop them so the
    CLI prints one clean line and the TUI's terminal is not scribbled over."""
    global _LOG_SINK
    if _LOG_SINK is not None:
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def _sink(level, text, user_data):  # noqa: ARG001
        return None

    _LOG_SINK = _sink  # keep a reference: ctypes callbacks must outlive their registration
    llama_cpp.llama_log_set(_sink, ctypes.c_void_p(0))


def _log_softmax_at(logits: np.ndarray, token: int) -> float:
    # exp in float32 (half the time over Gemma's 262k logits), the sum in float64.
    m = logits.max()
    return float(logits[token] - m) - float(np.log(np.exp(logits - m).sum(dtype=np.float64)))


class LlamaEngine(OptionScorer):
    def __init__(
        self,
        model_path: str | Path,
        *,
        name: str | None = None,
        quantization: str = "",
        n_ctx: int = 2048,
        default_method: str = DEFAULT_SCORING,
        threads: tuple[int, int] | None = None,
        seed: int = 0,
        cloze_norm: str = DEFAULT_CLOZE_NORM,
    ):
        if default_method not in METHODS:
            raise InputError(f"unknown scoring method {default_method!r}; use one of {', '.join(METHODS)}")
        if cloze_norm not in CLOZE_NORMS:
            raise InputError(f"unknown cloze normalisation {cloze_norm!r}; use one of {', '.join(CLOZE_NORMS)}")
        path = Path(model_path)
        meta = check_gguf(path, n_ctx=n_ctx)
        from llama_cpp import Llama  # heavy-ish import, only when a model is really loaded

        _silence_llama_logs()
        gen_threads, batch_threads = threads or choose_threads()
        try:
            self._llm = Llama(
                model_path=str(path), n_ctx=n_ctx, n_batch=512, n_threads=gen_threads,
                n_threads_batch=batch_threads, logits_all=False, seed=seed, verbose=False,
                # Full-size sliding-window cache: scoring rolls the cache back to the question
                # prefix for each option, which a pruned SWA cache (Gemma 3) cannot do.
                swa_full=True,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {path.name}: {exc}") from None
        self.path = path
        self.name = name or path.stem
        self.quantization = quantization
        self.n_ctx = n_ctx
        self.threads = (gen_threads, batch_threads)
        self.default_method = default_method
        self.cloze_norm = cloze_norm
        self.architecture = meta.get("general.architecture", "")
        self._chat_source = str(meta.get("tokenizer.chat_template") or "")
        self._chat: ChatTemplate | None = None
        self._chat_failed = False
        self.last_generation_tps = 0.0
        self._letter_ids: dict[str, int] = {}
        self._prefix: tuple[tuple[int, ...], np.ndarray] | None = None  # last cold-evaluated prefix

    # --- tokens -------------------------------------------------------------------------
    def tokenize(self, text: str, *, bos: bool = True) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=bos, special=False)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, bos=False))

    def _letter_token(self, letter: str) -> int:
        if letter not in self._letter_ids:
            ids = self.tokenize(letter_continuation(letter), bos=False)
            self._letter_ids[letter] = ids[-1]  # " A" is one token in every vocab we ship
        return self._letter_ids[letter]

    def _check_fits(self, n_tokens: int) -> None:
        if n_tokens >= self.n_ctx:
            raise InputError(
                f"prompt is {n_tokens} tokens; the model context holds {self.n_ctx} "
                "(shorten the question or retrieve fewer notes)"
            )

    # --- decoding -----------------------------------------------------------------------
    def _decode(self, tokens: Sequence[int], logits_from: int) -> list[np.ndarray]:
        """Append ``tokens`` to the cache; return logits for positions >= ``logits_from``.

        ``logits_from`` indexes into ``tokens``; the last token always yields logits.
        """
        llm = self._llm
        out: list[np.ndarray] = []
        n_vocab = llm.n_vocab()
        for start in range(0, len(tokens), llm.n_batch):
            chunk = list(tokens[start:start + llm.n_batch])
            n_past = llm.n_tokens
            llm._batch.set_batch(batch=chunk, n_past=n_past, logits_all=False)
            want = [i for i in range(len(chunk)) if start + i >= logits_from or start + i == len(tokens) - 1]
            for i in range(len(chunk)):
                llm._batch.batch.logits[i] = i in want
            llm._ctx.decode(llm._batch)
            llm.input_ids[n_past:n_past + len(chunk)] = chunk
            llm.n_tokens += len(chunk)
            for i in want:
                ptr = llm._ctx.get_logits_ith(i)
                out.append(np.ctypeslib.as_array(ptr, shape=(n_vocab,)).copy())
        return out

    def _eval_prefix(self, tokens: Sequence[int]) -> np.ndarray:
        """Evaluate ``tokens`` from an empty cache; return the logits after the last one.

        Why not reuse a cached common prefix across questions: llama.cpp's numbers depend on
        how a sequence is split into batches (a prefix decoded earlier, the rest now), which
        moved letter probabilities by up to 0.02, so the same question could get different
        probabilities depending on what was asked before. Questions share only ~3 tokens
        ("<bos>Question:"), so a cold evaluation costs nothing noticeable. The one reuse kept
        is exact: the same prefix again (the same question re-scored, or the next option on
        top of it), whose cache and logits come from one cold evaluation.
        """
        llm = self._llm
        key = tuple(tokens)
        if (self._prefix is not None and self._prefix[0] == key and llm.n_tokens >= len(key)
                and tuple(llm.input_ids[: len(key)]) == key):
            llm.n_tokens = len(key)
            llm._ctx.kv_cache_seq_rm(-1, len(key), -1)
            return self._prefix[1]
        llm.n_tokens = 0
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        logits = self._decode(tokens, logits_from=len(tokens) - 1)[-1]
        self._prefix = (key, logits)
        return logits

    # --- scoring ------------------------------------------------------------------------
    def _score_letter(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        tokens = self.tokenize(render_letter_prompt(q, passages))
        self._check_fits(len(tokens) + 1)
        logits = self._eval_prefix(tokens)
        return {l: float(logits[self._letter_token(l)]) for l in q.letters}, len(tokens)

    def cloze_likelihoods(self, q: MCQ, passages: Sequence[Passage] = (), *,
                          unconditional: bool = False) -> dict[str, OptionLikelihood]:
        """Each option's log-likelihood after the cloze prefix (and, if asked, after the
        neutral prefix): the raw material of every cloze normalisation (engine/cloze.py)."""
        prefix = render_cloze_prefix(q, passages)
        conditional = self._continuation_logprobs(prefix, q.options)
        neutral = (self._continuation_logprobs(CLOZE_UNCONDITIONAL_PREFIX, q.options)
                   if unconditional else [(None, 0)] * len(q.options))
        return {
            letter: OptionLikelihood(logprob=lp, n_tokens=n,
                                     n_bytes=len(cloze_continuation(opt).encode("utf-8")),
                                     unconditional=u)
            for letter, opt, (lp, n), (u, _) in zip(q.letters, q.options, conditional, neutral)
        }

    def _continuation_logprobs(self, prefix: str, options: Sequence[str]) -> list[tuple[float, int]]:
        """(sum of log-probs, token count) of each option's text after ``prefix``.

        The prefix is evaluated once (or reused from the cache); each option then evaluates
        only its own tokens on top of it, after rolling the cache back to the prefix.
        """
        ctx = self.tokenize(prefix)
        conts: list[list[int]] = []
        for option in options:
            # As lm-evaluation-harness does: tokenize context+continuation together and take
            # the tokens past the context, so merges across the boundary match training.
            whole = self.tokenize(prefix + cloze_continuation(option))
            cont = whole[len(ctx):] if whole[: len(ctx)] == ctx else []
            conts.append(cont or self.tokenize(cloze_continuation(option), bos=False))
        self._check_fits(len(ctx) + max(len(c) for c in conts))
        last = self._eval_prefix(ctx)
        out: list[tuple[float, int]] = []
        for cont in conts:
            self._llm.n_tokens = len(ctx)
            self._llm._ctx.kv_cache_seq_rm(-1, len(ctx), -1)
            rows = [last]
            if len(cont) > 1:
                rows += self._decode(cont[:-1], logits_from=0)
            out.append((sum(_log_softmax_at(r, t) for r, t in zip(rows, cont)), len(cont)))
        return out

    def _score_cloze(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        options = self.cloze_likelihoods(q, passages, unconditional=self.cloze_norm == "pmi")
        n_prompt = self.count_tokens(render_cloze_prefix(q, passages)) + 1
        return normalise(options, self.cloze_norm), n_prompt

    # --- generation ---------------------------------------------------------------------
    def chat_template(self) -> ChatTemplate | None:
        """The GGUF's own chat template (instruct models), None for a base model."""
        if self._chat is None and self._chat_source and not self._chat_failed:
            try:
                self._chat = ChatTemplate(self._chat_source, bos_token=self._special_text("bos"),
                                          eos_token=self._special_text("eos"))
            except InputError:
                self._chat_failed = True  # a template Jinja cannot parse: use the plain prompt
        return self._chat

    def _special_text(self, which: str) -> str:
        token = self._llm.token_bos() if which == "bos" else self._llm.token_eos()
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", "replace")

    def _chat_tokens(self, text: str) -> list[int]:
        # special=True: the template's markers must become the model's control tokens, not
        # their spelling. Templates that print bos_token themselves would get a second BOS
        # from add_bos; keep one.
        tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        bos = self._llm.token_bos()
        if len(tokens) >= 2 and tokens[0] == tokens[1] == bos:
            tokens = tokens[1:]
        return tokens

    def stream_explanation(
        self,
        q: MCQ,
        letter: str,
        passages: Sequence[Passage] = (),
        *,
        max_tokens: int = 256,
        temperature: float = 0.2,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[str]:
        chat = self.chat_template()
        prompt: str | list[int] = ""
        if chat is not None:
            # An instruct model: the same question block inside its own chat turn. Stop at its
            # turn markers, and strip any it spells out, so none reaches the student.
            try:
                prompt = self._chat_tokens(chat.render(explanation_messages(q, letter, passages)))
            except InputError:  # the template refused this conversation: explain without it
                chat = None
        if chat is not None:
            n_prompt = len(prompt)
            stops: Sequence[str] = STOP_SEQUENCES + tuple(chat.stop_markers())
        else:
            prompt = render_explanation_prompt(q, letter, passages)
            n_prompt = self.count_tokens(prompt) + 1
            stops = EXPLANATION_STOPS
        self._check_fits(n_prompt)
        max_tokens = max(1, min(max_tokens, self.n_ctx - n_prompt))
        pieces = self.stream_completion(prompt, max_tokens=max_tokens, temperature=temperature,
                                        should_stop=should_stop, stop=stops)
        if chat is None:
            yield from pieces
            return
        first = True
        for piece in pieces:
            piece = strip_markers(piece)
            if first:  # a chat reply opens on a new line after its turn marker; a base
                # model's explanation continues "Explanation:" after a space: read the same
                piece = piece.lstrip()
                first = not piece
                piece = " " + piece if piece else piece
            if piece:
                yield piece

    def stream_completion(
        self, prompt: str | list[int], *, max_tokens: int, temperature: float,
        should_stop: Callable[[], bool] = lambda: False, stop: Sequence[str] = STOP_SEQUENCES,
    ) -> Iterator[str]:
        """Stream text pieces; stops between tokens as soon as ``should_stop()`` is true."""
        n = 0
        t_first = None
        self._prefix = None  # generation rewrites the cache past (and at) the prompt's end
        stream = self._llm.create_completion(
            prompt, max_tokens=max_tokens, temperature=temperature, top_p=0.95,
            repeat_penalty=1.1, stop=list(stop), stream=True, seed=0,
        )
        try:
            for chunk in stream:
                if t_first is None:
                    t_first = time.perf_counter()
                n += 1
                if n > 1 and t_first is not None:
                    self.last_generation_tps = (n - 1) / max(1e-9, time.perf_counter() - t_first)
                text = chunk["choices"][0]["text"]
                if text:
                    yield text
                if should_stop():
                    break
        finally:
            stream.close()  # frees llama.cpp's generator state even when we stop early

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None

    def __enter__(self) -> "LlamaEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
