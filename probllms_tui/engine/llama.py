"""LlamaEngine: MCQ scoring and explanation streaming over llama-cpp-python.

Scoring methods
- ``letter``: the seed layout ends in ``Answer:``; the probability of each option is the
  model's next-token probability of `` A``, `` B``, ... renormalised over the options.
- ``cloze``: the log-likelihood of each option's own text after ``Question: ...\\nAnswer:``,
  normalised by its length in tokens (a long option is not punished for being long), the
  way lm-evaluation-harness scores ARC.

How cloze is decoded (engine/batching.py): llama.cpp's own multiple-choice scheme. The
question's tokens and every option's tokens go into one ``llama_decode``, the options as
parallel sequences sharing the question's cells, with logits only at the positions scoring
reads. ``cloze_likelihoods_many`` packs several questions into each decode. The sequential
path (the question once, then each option on top of it after rolling the cache back: one
decode per option) stays for comparison (``batch_options=False``) and for a question whose
options together do not fit one batch.

Every private or low-level llama-cpp-python call is in engine/llama_adapter.py; scoring runs
on its ``ScoringContext`` and generation on ``Llama``'s own context, both on one copy of the
weights. Each scoring call starts from an empty cache, so a question's numbers do not depend
on what was asked before.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

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
from probllms_tui.engine import llama_adapter
from probllms_tui.engine.base import METHODS, OptionScorer, ScoreResult
from probllms_tui.engine.batching import ClozeItem, Limits, layout, picked_logprobs, plan_batches
from probllms_tui.engine.cloze import CLOZE_NORMS, OptionLikelihood, normalise
from probllms_tui.engine.gguf_check import check_gguf
from probllms_tui.engine.threads import choose_threads_explained, usable_cores

# Sequences per scoring context: 16 four-option questions per decode; llama.cpp allows 256.
N_SEQ_MAX = 64
# Tokens per packed decode: one ubatch. Every token attends over the whole batch's cells
# (masked where they belong to other sequences), so larger packs waste attention, while the
# per-call savings are already small at this size: packed decoding runs at 0.94-1.04x of raw
# llama.cpp doing the same work (docs/measurements.md). Not tuned further.
PACK_TOKENS = 512
# Logit rows per decode: each is n_vocab floats (1 MB for Gemma's 262k vocabulary).
PACK_OUTPUTS = 64
# A question alone may ask for more rows (long options: 128 MB of logits for Gemma); past
# this it goes the sequential way, one option at a time.
ALONE_OUTPUTS = 128
# Tokens of the thread probe at open: a batch, yet ~0.05 s per run on the default model on
# an idle machine (over a second with two threads under load 16 on 2 cores).
PROBE_TOKENS = 32

Key = tuple[str, tuple[str, ...]]  # (prefix text, option texts)
Sums = list[tuple[float, int]]  # per option: (summed log-probability, token count)


def _per_question(questions: Sequence[MCQ], passages_list) -> list[Sequence[Passage]]:
    if passages_list is None:
        return [()] * len(questions)
    if len(passages_list) != len(questions):
        raise ValueError("give one passages list per question")
    return list(passages_list)


def _keys(questions: Sequence[MCQ], passages_list, unconditional: bool) -> list[Key]:
    """What to score for each question, in order: its cloze prefix with its options, then
    (pmi) the neutral prefix with the same options."""
    keys: list[Key] = []
    for q, passages in zip(questions, passages_list):
        keys.append((render_cloze_prefix(q, passages), tuple(q.options)))
        if unconditional:
            keys.append((CLOZE_UNCONDITIONAL_PREFIX, tuple(q.options)))
    return keys


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
        batch_options: bool = True,
    ):
        if default_method not in METHODS:
            raise InputError(f"unknown scoring method {default_method!r}; use one of {', '.join(METHODS)}")
        if cloze_norm not in CLOZE_NORMS:
            raise InputError(f"unknown cloze normalisation {cloze_norm!r}; use one of {', '.join(CLOZE_NORMS)}")
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
        self._letter_ids: dict[str, int] = {}
        self._prefilled: dict[Key, Sums] = {}  # score_many's batched results, read by score
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

    # --- letter -------------------------------------------------------------------------
    def _score_letter(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        tokens = self.tokenize(render_letter_prompt(q, passages))
        self._check_fits(len(tokens) + 1)
        self._scoring.clear()
        logits = self._scoring.decode_one_sequence(tokens, 0, len(tokens) - 1)[-1]
        return {l: float(logits[self._letter_token(l)]) for l in q.letters}, len(tokens)

    # --- cloze --------------------------------------------------------------------------
    def cloze_likelihoods(self, q: MCQ, passages: Sequence[Passage] = (), *,
                          unconditional: bool = False) -> dict[str, OptionLikelihood]:
        """Each option's log-likelihood after the cloze prefix (and, if asked, after the
        neutral prefix): the raw material of every cloze normalisation (engine/cloze.py)."""
        result = self.cloze_likelihoods_many([q], [passages], unconditional=unconditional)[0]
        if isinstance(result, InputError):
            raise result
        return result

    def cloze_likelihoods_many(
        self, questions: Sequence[MCQ], passages_list: Sequence[Sequence[Passage]] | None = None, *,
        unconditional: bool = False,
    ) -> list[dict[str, OptionLikelihood] | InputError]:
        """``cloze_likelihoods`` for many questions, packed several to a decode.

        A question that cannot be scored (longer than the context) gets its InputError in
        its place instead of stopping the others.
        """
        passages_list = _per_question(questions, passages_list)
        per_q = 2 if unconditional else 1
        sums, _ = self._option_logprobs(_keys(questions, passages_list, unconditional))
        out: list[dict[str, OptionLikelihood] | InputError] = []
        for i, q in enumerate(questions):
            cond = sums[i * per_q]
            neutral = sums[i * per_q + 1] if unconditional else [(None, 0)] * len(q.options)
            if isinstance(cond, InputError) or isinstance(neutral, InputError):
                out.append(cond if isinstance(cond, InputError) else neutral)
                continue
            out.append({
                letter: OptionLikelihood(logprob=lp, n_tokens=n,
                                         n_bytes=len(cloze_continuation(opt).encode("utf-8")),
                                         unconditional=u)
                for letter, opt, (lp, n), (u, _) in zip(q.letters, q.options, cond, neutral)
            })
        return out

    def _item(self, key: Key) -> ClozeItem:
        prefix, options = key
        ctx = self.tokenize(prefix)
        conts = []
        for option in options:
            # As lm-evaluation-harness does: tokenize context+continuation together and take
            # the tokens past the context, so merges across the boundary match training.
            whole = self.tokenize(prefix + cloze_continuation(option))
            cont = whole[len(ctx):] if whole[: len(ctx)] == ctx else []
            conts.append(tuple(cont or self.tokenize(cloze_continuation(option), bos=False)))
        return ClozeItem(tuple(ctx), tuple(conts))

    def _option_logprobs(self, keys: Sequence[Key]) -> tuple[list[Sums | InputError], list[float]]:
        """Per key: each option's (summed log-prob, tokens), and the seconds spent on it
        (a batch's wall time divided equally over the keys it held)."""
        results: list[Sums | InputError | None] = [None] * len(keys)
        seconds = [0.0] * len(keys)
        alone = Limits(tokens=self._scoring.n_ctx, seqs=self._scoring.n_seq_max, outputs=ALONE_OUTPUTS)
        batched: list[tuple[int, ClozeItem]] = []
        for i, key in enumerate(keys):
            if key in self._prefilled:
                results[i] = self._prefilled[key]
                continue
            t0 = time.perf_counter()
            item = self._item(key)
            try:
                self._check_fits(len(item.prefix) + max(len(c) for c in item.conts))
            except InputError as exc:
                results[i] = exc
            else:
                if self.batch_options and alone.fits(item):
                    batched.append((i, item))
                else:
                    results[i] = self._sequential(item)
            seconds[i] += time.perf_counter() - t0
        limits = Limits(tokens=min(PACK_TOKENS, self._scoring.n_ctx), seqs=self._scoring.n_seq_max,
                        outputs=PACK_OUTPUTS)
        for pack in plan_batches([item for _, item in batched], limits):
            t0 = time.perf_counter()
            sums = self._decode_batch([batched[j][1] for j in pack])
            share = (time.perf_counter() - t0) / len(pack)
            for j, s in zip(pack, sums):
                results[batched[j][0]] = s
                seconds[batched[j][0]] += share
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

    def _score_cloze(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        options = self.cloze_likelihoods(q, passages, unconditional=self.cloze_norm == "pmi")
        n_prompt = self.count_tokens(render_cloze_prefix(q, passages)) + 1
        return normalise(options, self.cloze_norm), n_prompt

    # --- many questions -----------------------------------------------------------------
    def score_many(self, questions: Sequence[MCQ], passages_list: Sequence[Sequence[Passage]] | None = None,
                   method: str | None = None) -> list[ScoreResult | InputError]:
        """``score`` for each question; cloze packs several questions into each decode.

        Each result goes through ``score`` (the same normalisation, softmax and whatever else
        ``score`` applies); its ``latency_ms`` is the question's share of the batch wall time
        (a batch's time divided equally over the questions it held) plus its own ``score``
        call. Letter scoring stays one decode per question.
        """
        method = method or self.default_method
        passages_list = _per_question(questions, passages_list)
        if method != "cloze":
            return [self._score_or_error(q, p, method, 0.0) for q, p in zip(questions, passages_list)]
        unconditional = self.cloze_norm == "pmi"
        keys = _keys(questions, passages_list, unconditional)
        sums, seconds = self._option_logprobs(keys)
        per_q = 2 if unconditional else 1
        out: list[ScoreResult | InputError] = []
        try:
            for i, (q, passages) in enumerate(zip(questions, passages_list)):
                mine = list(zip(keys[i * per_q:(i + 1) * per_q], sums[i * per_q:(i + 1) * per_q]))
                error = next((s for _, s in mine if isinstance(s, InputError)), None)
                if error is not None:
                    out.append(error)
                    continue
                self._prefilled = dict(mine)
                out.append(self._score_or_error(q, passages, method, sum(seconds[i * per_q:(i + 1) * per_q])))
        finally:
            self._prefilled = {}
        return out

    def _score_or_error(self, q: MCQ, passages, method: str, extra_s: float) -> ScoreResult | InputError:
        try:
            res = self.score(q, passages, method)
        except InputError as exc:
            return exc
        return dataclasses.replace(res, latency_ms=res.latency_ms + extra_s * 1000.0)

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
