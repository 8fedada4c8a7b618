"""ScoringTemplate: MCQ scoring requests built once, whatever runs the model.

In the manner of lm-evaluation-harness's ``TemplateLM``, everything that decides *what* is
scored lives here, so the GGUF engine (engine/llama.py) and the benchmark's transformers
scorer (probllms_train/bench/hf_scorer.py) cannot drift apart on it:

- the prompt strings (core/prompt.py);
- each option's tokens: context and option tokenized together and the tokens past the
  context taken, so merges across the boundary are the ones the model saw in training (the
  option tokenized alone when the joint tokens do not start with the context's);
- the fit check and its one message, and the token id of each answer letter;
- for ``pmi``, the same options after the neutral prefix;
- normalisation (engine/cloze.py) and the answer and probabilities (``scored``).

A backend implements three primitives: ``tokenize``, ``next_token_logits`` (letter scoring)
and ``continuation_logprobs`` (cloze). The last gets every request of a call at once, so a
backend may batch them however suits it; ``score_many`` makes exactly one such call.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import (
    CLOZE_UNCONDITIONAL_PREFIX,
    Passage,
    cloze_continuation,
    letter_continuation,
    render_cloze_prefix,
    render_letter_prompt,
)
from probllms_tui.core.registry import DEFAULT_CLOZE_NORM
from probllms_tui.engine.base import METHODS, OptionScorer, ScoreResult, score_each, scored
from probllms_tui.engine.cloze import CLOZE_NORMS, OptionLikelihood, normalise

Sums = list[tuple[float, int]]  # per continuation: (summed log-probability, token count)
Likelihoods = dict[str, OptionLikelihood]


@dataclass(frozen=True)
class ClozeItem:
    """One prefix and the token continuations to score after it."""

    prefix: tuple[int, ...]
    conts: tuple[tuple[int, ...], ...]

    @cached_property
    def option_tree(self) -> dict[tuple[int, ...], list[int]]:
        """The options' tokens as a prefix tree, the way a batch decodes them: each distinct
        path of option tokens that predicts a further token, mapped to the options (indices)
        that go through it, parents before children. Options that begin with the same
        tokens (" 1" of " 12" and " 18", "the" of two text options) share those cells and
        their logit rows, exactly as the question's prefix is shared; an option's last token
        predicts nothing scored and is not in the tree."""
        tree: dict[tuple[int, ...], list[int]] = {}
        for k, cont in enumerate(self.conts):
            for j in range(1, len(cont)):
                tree.setdefault(cont[:j], []).append(k)
        return tree

    @property
    def n_tokens(self) -> int:
        """Tokens this item puts into a batch (and into the unified KV cache) on its own; in
        a batch with questions that open alike, fewer (engine/batching.py)."""
        return len(self.prefix) + len(self.option_tree)

    @property
    def n_outputs(self) -> int:
        """Logit rows this item asks for on its own (at most that in a batch)."""
        return 1 + len(self.option_tree)


def check_choices(method: str, cloze_norm: str) -> None:
    """A scorer's default method and cloze normalisation, refused as the user's error."""
    if method not in METHODS:
        raise InputError(f"unknown scoring method {method!r}; use one of {', '.join(METHODS)}")
    if cloze_norm not in CLOZE_NORMS:
        raise InputError(f"unknown cloze normalisation {cloze_norm!r}; use one of {', '.join(CLOZE_NORMS)}")


def per_question(questions: Sequence[MCQ], passages_list) -> list[Sequence[Passage]]:
    if passages_list is None:
        return [()] * len(questions)
    if len(passages_list) != len(questions):
        raise ValueError("give one passages list per question")
    return list(passages_list)


class ScoringTemplate(OptionScorer):
    """``score``, ``score_many`` and the cloze likelihoods on top of three backend primitives.

    Subclasses set ``name``, ``default_method``, ``n_ctx`` and ``cloze_norm``.
    """

    n_ctx: int
    cloze_norm: str = DEFAULT_CLOZE_NORM
    # True where continuation_logprobs packs several questions into one model call, so that
    # handing it many questions at once pays (the benchmark then scores in chunks).
    packs_questions: bool = False

    # --- what a backend implements --------------------------------------------------------
    def tokenize(self, text: str, *, bos: bool = True) -> list[int]:
        """Token ids of ``text``, BOS first when ``bos``; special-token spellings stay text."""
        raise NotImplementedError

    def next_token_logits(self, tokens: Sequence[int]):
        """The logits predicting the token after ``tokens``, indexable by token id (read
        before the next call: a backend may hand out a view of its own buffer)."""
        raise NotImplementedError

    def continuation_logprobs(self, items: Sequence[ClozeItem]) -> tuple[list[Sums], list[float]]:
        """Per item, per continuation: (sum of log P(token | prefix and the continuation's
        tokens before it), token count); and the seconds spent on each item. Every item has
        passed the fit check."""
        raise NotImplementedError

    # --- requests -------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, bos=False))

    def letter_token(self, letter: str) -> int:
        # " A" is one token in every vocabulary we ship; its last token is the letter's.
        # Cached per instance: letter scoring asks for the same few on every question.
        cache = vars(self).setdefault("_letter_ids", {})
        if letter not in cache:
            cache[letter] = self.tokenize(letter_continuation(letter), bos=False)[-1]
        return cache[letter]

    def _check_fits(self, n_tokens: int) -> None:
        if n_tokens >= self.n_ctx:
            raise InputError(
                f"prompt is {n_tokens} tokens; the model context holds {self.n_ctx} "
                "(shorten the question or retrieve fewer notes)"
            )

    def cloze_request(self, prefix: str, options: Sequence[str]) -> ClozeItem:
        """The tokens of ``prefix`` and of each option's continuation after it."""
        ctx = self.tokenize(prefix)
        conts = []
        for option in options:
            # As lm-evaluation-harness does: tokenize context+continuation together and take
            # the tokens past the context, so merges across the boundary match training.
            whole = self.tokenize(prefix + cloze_continuation(option))
            cont = whole[len(ctx):] if whole[: len(ctx)] == ctx else []
            conts.append(tuple(cont or self.tokenize(cloze_continuation(option), bos=False)))
        return ClozeItem(tuple(ctx), tuple(conts))

    def _cloze_requests(self, q: MCQ, passages: Sequence[Passage], unconditional: bool) -> list[ClozeItem]:
        """The question's cloze request, then (pmi) the same options after the neutral prefix."""
        prefixes = [render_cloze_prefix(q, passages)]
        if unconditional:
            prefixes.append(CLOZE_UNCONDITIONAL_PREFIX)
        items = [self.cloze_request(p, q.options) for p in prefixes]
        for item in items:
            self._check_fits(len(item.prefix) + max(len(c) for c in item.conts))
        return items

    # --- scoring --------------------------------------------------------------------------
    def _score_letter(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        tokens = self.tokenize(render_letter_prompt(q, passages))
        self._check_fits(len(tokens) + 1)
        ids = {letter: self.letter_token(letter) for letter in q.letters}
        logits = self.next_token_logits(tokens)
        return {letter: float(logits[i]) for letter, i in ids.items()}, len(tokens)

    def _cloze(self, questions: Sequence[MCQ], passages_list, unconditional: bool,
               ) -> tuple[list[tuple[Likelihoods, int] | InputError], list[float]]:
        """Per question: its option likelihoods and prompt tokens, or the InputError that
        stopped it; and the seconds spent on it: its own request building plus its requests'
        share of the one ``continuation_logprobs`` call."""
        passages_list = per_question(questions, passages_list)
        items: list[ClozeItem] = []
        where: list[range | InputError] = []
        seconds: list[float] = []
        for q, passages in zip(questions, passages_list):
            t0 = time.perf_counter()
            try:
                mine = self._cloze_requests(q, passages, unconditional)
            except InputError as exc:  # too long: this question fails, the others go on
                where.append(exc)
            else:
                where.append(range(len(items), len(items) + len(mine)))
                items += mine
            seconds.append(time.perf_counter() - t0)
        sums, item_s = self.continuation_logprobs(items) if items else ([], [])
        out: list[tuple[Likelihoods, int] | InputError] = []
        for i, (q, w) in enumerate(zip(questions, where)):
            if isinstance(w, InputError):
                out.append(w)
                continue
            seconds[i] += sum(item_s[j] for j in w)
            cond = sums[w[0]]
            neutral = sums[w[1]] if unconditional else [(None, 0)] * len(q.options)
            out.append(({
                letter: OptionLikelihood(logprob=lp, n_tokens=n,
                                         n_bytes=len(cloze_continuation(opt).encode("utf-8")),
                                         unconditional=u)
                for letter, opt, (lp, n), (u, _) in zip(q.letters, q.options, cond, neutral)
            }, len(items[w[0]].prefix)))
        return out, seconds

    def cloze_likelihoods(self, q: MCQ, passages: Sequence[Passage] = (), *,
                          unconditional: bool = False) -> Likelihoods:
        """Each option's log-likelihood after the cloze prefix (and, if asked, after the
        neutral prefix): the raw material of every cloze normalisation (engine/cloze.py)."""
        result = self.cloze_likelihoods_many([q], [passages], unconditional=unconditional)[0]
        if isinstance(result, InputError):
            raise result
        return result

    def cloze_likelihoods_many(self, questions: Sequence[MCQ],
                               passages_list: Sequence[Sequence[Passage]] | None = None, *,
                               unconditional: bool = False) -> list[Likelihoods | InputError]:
        """``cloze_likelihoods`` for many questions in one backend call. A question that
        cannot be scored (longer than the context) gets its InputError in its place."""
        results, _ = self._cloze(questions, passages_list, unconditional)
        return [r if isinstance(r, InputError) else r[0] for r in results]

    def _score_cloze(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        [result], _ = self._cloze([q], [passages], self.cloze_norm == "pmi")
        if isinstance(result, InputError):
            raise result
        likelihoods, n_prompt = result
        return normalise(likelihoods, self.cloze_norm), n_prompt

    def score_many(self, questions: Sequence[MCQ], passages_list: Sequence[Sequence[Passage]] | None = None,
                   method: str | None = None) -> list[ScoreResult | InputError]:
        """``score`` for each question, a question that cannot be scored getting its
        InputError in its place. The questions cloze serves (all of them, or those of the
        option kinds it serves) make one backend call; a question's ``latency_ms`` is then
        its own share of that call's time (see ``continuation_logprobs``) plus its own work.
        Letter scoring is one call per question."""
        passages_list = per_question(questions, passages_list)
        is_cloze = [self.method_for(q, method) == "cloze" for q in questions]
        cloze = [i for i, c in enumerate(is_cloze) if c]
        rest = [i for i, c in enumerate(is_cloze) if not c]  # letter (or an unknown method's error)
        out: list[ScoreResult | InputError | None] = [None] * len(questions)
        for i, res in zip(cloze, self._score_cloze_many([questions[i] for i in cloze],
                                                        [passages_list[i] for i in cloze])):
            out[i] = res
        for i, res in zip(rest, score_each(self, [questions[i] for i in rest], [passages_list[i] for i in rest],
                                           method)):
            out[i] = res
        return out  # type: ignore[return-value]

    def _score_cloze_many(self, questions: Sequence[MCQ], passages_list) -> list[ScoreResult | InputError]:
        if not questions:
            return []
        results, seconds = self._cloze(questions, passages_list, self.cloze_norm == "pmi")
        out: list[ScoreResult | InputError] = []
        for q, result, s in zip(questions, results, seconds):
            if isinstance(result, InputError):
                out.append(result)
                continue
            t0 = time.perf_counter()
            likelihoods, n_prompt = result
            scores = normalise(likelihoods, self.cloze_norm)
            out.append(scored(q, scores, method="cloze", model=self.name,
                              calibration=self.calibrations.get("cloze"), prompt_tokens=n_prompt,
                              latency_ms=(s + time.perf_counter() - t0) * 1000.0))
        return out
