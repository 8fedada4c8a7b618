"""LlamaEngine: MCQ scoring and explanation streaming over llama-cpp-python.

Scoring methods
- ``letter``: the seed layout ends in ``Answer:``; the probability of each option is the
  model's next-token probability of `` A``, `` B``, ... renormalised over the options.
- ``cloze``: the log-likelihood of each option's own text after ``Question: ...\\nAnswer:``,
  normalised by its length in tokens (a long option is not punished for being long), the
  way lm-evaluation-harness scores ARC.

What is scored (prompts, option tokens, the fit check, normalisation, ``score_many``) is
built by engine/scoring.py's ``ScoringTemplate``, shared with the benchmark's transformers
scorer; this class supplies its primitives (``tokenize``, ``next_token_logits``,
``continuation_logprobs``) and the explanations.

How cloze is decoded (engine/batching.py): llama.cpp's own multiple-choice scheme. The
question's tokens and every option's tokens go into one ``llama_decode``, the options as
parallel sequences sharing the question's cells, with logits only at the positions scoring
reads; several questions are packed into each decode. The sequential path (the question
once, then each option on top of it after rolling the cache back: one decode per option)
stays for comparison (``batch_options=False``) and for a question whose options together
do not fit one batch.

Every private or low-level llama-cpp-python call is in engine/llama_adapter.py; scoring runs
on its ``ScoringContext`` and generation on ``Llama``'s own context, both on one copy of the
weights. Each scoring call starts from an empty cache, so a question's numbers do not depend
on what was asked before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from probllms_tui.core.chat import ChatTemplate, strip_markers
from probllms_tui.core.errors import InputError, ModelLoadError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import (
    EXPLANATION_STOPS,
    STOP_SEQUENCES,
    Passage,
    explanation_messages,
    render_explanation_prompt,
)
from probllms_tui.core.registry import DEFAULT_CLOZE_NORM, DEFAULT_SCORING
from probllms_tui.engine import llama_adapter
from probllms_tui.engine.batching import Limits, layout, picked_logprobs, plan_batches
from probllms_tui.engine.gguf_check import check_gguf
from probllms_tui.engine.scoring import ClozeItem, ScoringTemplate, Sums, check_choices
from probllms_tui.engine.threads import choose_threads_explained, usable_cores

# Sequences per scoring context: 16 four-option questions per decode; llama.cpp allows 256.
N_SEQ_MAX = 64
# Tokens per packed decode: one ubatch. Every token attends over the whole batch's cells
# (masked where they belong to other sequences), so larger packs waste attention, while the
# per-call savings are already small at this size. Measured (300 ARC-Easy questions, default
# model, 2 idle cores, ms per question at tokens/rows): 512/64 84.5, 512/128 81.9, 1024/128
# 83.2, 2048/128 86.1, 1024/256 88.7 (docs/measurements.md).
PACK_TOKENS = 512
# Logit rows per decode: each is n_vocab floats (1 MB for Gemma's 262k vocabulary), so no
# more than a question alone may already ask for (ALONE_OUTPUTS).
PACK_OUTPUTS = 128
# A question alone may ask for more rows (long options: 128 MB of logits for Gemma); past
# this it goes the sequential way, one option at a time.
ALONE_OUTPUTS = 128
# Tokens of the thread probe at open: a batch, yet ~0.05 s per run on the default model on
# an idle machine (over a second with two threads under load 16 on 2 cores).
PROBE_TOKENS = 32


class LlamaEngine(ScoringTemplate):
    packs_questions = True  # several questions per llama_decode (engine/batching.py)

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
        batch_options: bool = True,
    ):
        check_choices(default_method, cloze_norm)
        path = Path(model_path)
        meta = check_gguf(path, n_ctx=n_ctx)
        from llama_cpp import Llama  # heavy-ish import, only when a model is really loaded

        llama_adapter.silence_logs()
        cores = usable_cores()
        gen_threads, batch_threads = threads or (max(1, cores // 2), cores)
        try:
            self._llm = Llama(
                model_path=str(path), n_ctx=n_ctx, n_batch=512, n_threads=gen_threads,
                n_threads_batch=batch_threads, logits_all=False, seed=seed, verbose=False,
                # Full-size sliding-window cache (Gemma 3), as the scoring context has.
                swa_full=True,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {path.name}: {exc}") from None
        try:
            self._scoring = llama_adapter.ScoringContext(
                self._llm, n_ctx=n_ctx, n_seq_max=min(N_SEQ_MAX, llama_adapter.max_parallel_sequences()),
                threads=(gen_threads, batch_threads))
        except ModelLoadError:
            self._llm.close()
            raise
        self.path = path
        self.name = name or path.stem
        self.quantization = quantization
        self.n_ctx = n_ctx
        self.default_method = default_method
        self.cloze_norm = cloze_norm
        self.batch_options = batch_options
        self.architecture = meta.get("general.architecture", "")
        self._chat_source = str(meta.get("tokenizer.chat_template") or "")
        self._chat: ChatTemplate | None = None
        self._chat_failed = False
        self.last_generation_tps = 0.0
        self.last_finish_reason: str | None = None  # of the last completion: "stop" or "length"
        if threads is None:
            gen_threads, batch_threads, self.threads_how = choose_threads_explained(self._probe_threads)
        else:
            self.threads_how = "given"
        self.set_threads(gen_threads, batch_threads)

    def set_threads(self, gen: int, batch: int) -> None:
        llama_adapter.set_threads(self._llm, gen, batch)
        self._scoring.set_threads(gen, batch)
        self.threads = (gen, batch)

    def _probe_threads(self, n: int) -> float:
        """Prompt tokens/s with ``n`` threads on this model, now (engine/threads.py)."""
        if not hasattr(self, "_probe_tokens"):
            text = "The quick brown fox jumps over the lazy dog while the students take notes. " * 16
            self._probe_tokens = self.tokenize(text)[:PROBE_TOKENS]
            self._scoring.time_prompt(self._probe_tokens, n)  # warm-up: pages in the weights
        return len(self._probe_tokens) / self._scoring.time_prompt(self._probe_tokens, n)

    # --- the scoring template's primitives (engine/scoring.py) --------------------------
    def tokenize(self, text: str, *, bos: bool = True) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=bos, special=False)

    def next_token_logits(self, tokens: Sequence[int]):
        self._scoring.clear()
        return self._scoring.decode_one_sequence(tokens, 0, len(tokens) - 1)[-1]

    def continuation_logprobs(self, items: Sequence[ClozeItem]) -> tuple[list[Sums], list[float]]:
        """Items packed several to a decode; a batch's wall time is divided equally over the
        items it held. An item too large for one batch, or every item with
        ``batch_options=False``, goes the sequential way."""
        results: list[Sums | None] = [None] * len(items)
        seconds = [0.0] * len(items)
        alone = Limits(tokens=self._scoring.n_ctx, seqs=self._scoring.n_seq_max, outputs=ALONE_OUTPUTS)
        batched: list[int] = []
        for i, item in enumerate(items):
            if self.batch_options and alone.fits(item):
                batched.append(i)
            else:
                t0 = time.perf_counter()
                results[i] = self._sequential(item)
                seconds[i] = time.perf_counter() - t0
        limits = Limits(tokens=min(PACK_TOKENS, self._scoring.n_ctx), seqs=self._scoring.n_seq_max,
                        outputs=PACK_OUTPUTS)
        for pack in plan_batches([items[i] for i in batched], limits):
            t0 = time.perf_counter()
            sums = self._decode_batch([items[batched[j]] for j in pack])
            share = (time.perf_counter() - t0) / len(pack)
            for j, s in zip(pack, sums):
                results[batched[j]] = s
                seconds[batched[j]] = share
        return results, seconds  # type: ignore[return-value]

    def _decode_batch(self, items: Sequence[ClozeItem]) -> list[Sums]:
        """All ``items`` in one decode, options as parallel sequences (engine/batching.py)."""
        lay = layout(items)
        self._scoring.clear()
        rows = self._scoring.decode(lay.tokens, lay.pos, lay.seq_ids, lay.logits)
        row_idx = [r for reads in lay.reads for rws, _ in reads for r in rws]
        targets = [t for reads in lay.reads for _, cont in reads for t in cont]
        lps = picked_logprobs(rows, row_idx, targets)
        out, k = [], 0
        for reads in lay.reads:
            sums = []
            for _, cont in reads:
                sums.append((float(lps[k:k + len(cont)].sum()), len(cont)))
                k += len(cont)
            out.append(sums)
        return out

    def _sequential(self, item: ClozeItem) -> Sums:
        """The question once, then each option on top of it after rolling the cache back."""
        sc, n = self._scoring, len(item.prefix)
        sc.clear()
        last = sc.decode_one_sequence(item.prefix, 0, n - 1)[-1:].copy()
        out: Sums = []
        for cont in item.conts:
            sc.remove_from(-1, n)
            lp = float(picked_logprobs(last, [0], [cont[0]])[0])
            if len(cont) > 1:
                rows = sc.decode_one_sequence(cont[:-1], n, 0)
                lp += float(picked_logprobs(rows, range(len(cont) - 1), cont[1:]).sum())
            out.append((lp, len(cont)))
        return out

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
        self.last_finish_reason = None
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
                self.last_finish_reason = chunk["choices"][0].get("finish_reason") or self.last_finish_reason
                if text:
                    yield text
                if should_stop():
                    break
        finally:
            stream.close()  # frees llama.cpp's generator state even when we stop early

    def close(self) -> None:
        scoring = getattr(self, "_scoring", None)
        if scoring is not None:
            scoring.close()
            self._scoring = None
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None

    def __enter__(self) -> "LlamaEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
