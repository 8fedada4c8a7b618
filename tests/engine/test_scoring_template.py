"""The scoring template's own logic (engine/scoring.py), on a backend written here that
implements only the three primitives over a deterministic fake model.

What the GGUF engine and the transformers scorer rely on: the option tokens come from the
joint tokenisation, the fit check says one thing, pmi subtracts the neutral pass,
``score_many`` gives what ``score`` gives with one backend call. The real backends are
checked on real models in tests/engine and tests/bench.
"""

from __future__ import annotations

import math
import random

import pytest

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import (
    CLOZE_UNCONDITIONAL_PREFIX,
    Passage,
    cloze_continuation,
    render_cloze_prefix,
    render_letter_prompt,
)
from probllms_tui.engine.cloze import CLOZE_NORMS, OptionLikelihood, normalise
from probllms_tui.engine.scoring import ClozeItem, ScoringTemplate

BOS, MERGED, VOCAB = 1, 2, 256
SPACE = "\u2581"
PARIS = MCQ("What is the capital of France?", ("Paris", "Lyon", "a big city"))
PRIME = MCQ("Which number is prime?", ("4", "6", "7", "9"))
LONG = MCQ("Consider this. " + "The cat sat. " * 40 + "Where?", ("mat", "hat"))


def fake_logits(tokens) -> list[float]:
    """Deterministic next-token logits: a function of the length and the last three tokens."""
    rng = random.Random(hash((len(tokens), tuple(tokens[-3:]))))
    return [rng.gauss(0.0, 2.0) for _ in range(VOCAB)]


def log_softmax(row: list[float]) -> list[float]:
    top = max(row)
    log_total = top + math.log(sum(math.exp(x - top) for x in row))
    return [x - log_total for x in row]


class FakeBackend(ScoringTemplate):
    """Only what a backend must implement, and the attributes a scorer has."""

    def __init__(self, *, n_ctx: int = 400, cloze_norm: str = "token", merge: bool = False):
        self.name, self.default_method, self.n_ctx, self.cloze_norm = "fake", "cloze", n_ctx, cloze_norm
        self.merge = merge  # merge ":" + space into one token, across the context's end
        self.calls: list[list[ClozeItem]] = []

    def tokenize(self, text: str, *, bos: bool = True) -> list[int]:
        # Character tokens after a SentencePiece-style dummy space: " Paris" alone starts
        # with two spaces, after a context with one, so the joint tokens differ from it.
        s = SPACE + text.replace(" ", SPACE)
        ids, i = [BOS] if bos else [], 0
        while i < len(s):
            if self.merge and s.startswith(":" + SPACE, i):
                ids.append(MERGED)
                i += 2
            else:
                ids.append(3 + ord(s[i]) % (VOCAB - 3))
                i += 1
        return ids

    def next_token_logits(self, tokens):
        return fake_logits(tokens)

    def continuation_logprobs(self, items):
        self.calls.append(list(items))
        sums = [[(sum(log_softmax(fake_logits(list(item.prefix) + list(c[:j])))[c[j]] for j in range(len(c))),
                  len(c)) for c in item.conts] for item in items]
        return sums, [0.001] * len(items)


def by_hand(backend: FakeBackend, prefix: str, option: str) -> tuple[float, int]:
    """An option's log-likelihood from the text: the joint tokens past the context."""
    ctx = backend.tokenize(prefix)
    whole = backend.tokenize(prefix + cloze_continuation(option))
    assert whole[:len(ctx)] == ctx
    return sum(log_softmax(fake_logits(whole[:i]))[whole[i]] for i in range(len(ctx), len(whole))), len(whole) - len(ctx)


def test_option_tokens_come_from_the_joint_tokenisation():
    backend = FakeBackend()
    prefix = render_cloze_prefix(PARIS)
    item = backend.cloze_request(prefix, PARIS.options)
    assert item.prefix == tuple(backend.tokenize(prefix))
    for option, cont in zip(PARIS.options, item.conts):
        assert cont == tuple(backend.tokenize(prefix + cloze_continuation(option))[len(item.prefix):])
        assert cont != tuple(backend.tokenize(cloze_continuation(option), bos=False))  # not the option alone
    # Where the joint tokens do not start with the context's (a merge across the boundary),
    # the option is tokenized alone.
    merging = FakeBackend(merge=True)
    item = merging.cloze_request(prefix, PARIS.options)
    assert merging.tokenize(prefix + " Paris")[:len(item.prefix)] != list(item.prefix)
    assert item.conts[0] == tuple(merging.tokenize(" Paris", bos=False))


@pytest.mark.parametrize("norm", CLOZE_NORMS)
def test_cloze_scores_match_a_hand_computation(norm):
    backend = FakeBackend(cloze_norm=norm)
    notes = [Passage("Paris is the capital.", "geo.md:1")]
    prefix = render_cloze_prefix(PARIS, notes)
    options = {}
    for letter, option in zip(PARIS.letters, PARIS.options):
        lp, n = by_hand(backend, prefix, option)
        neutral = by_hand(backend, CLOZE_UNCONDITIONAL_PREFIX, option)[0] if norm == "pmi" else None
        options[letter] = OptionLikelihood(lp, n, len(cloze_continuation(option).encode()), neutral)
    r = backend.score(PARIS, notes, "cloze")
    assert r.scores == pytest.approx(normalise(options, norm), abs=1e-9)
    assert r.prompt_tokens == len(backend.tokenize(prefix))
    # pmi: the question's request and the neutral one, in one backend call
    assert [len(c) for c in backend.calls] == [2 if norm == "pmi" else 1]


def test_letter_scores_are_the_letter_tokens_logits():
    backend = FakeBackend()
    tokens = backend.tokenize(render_letter_prompt(PRIME))
    row = fake_logits(tokens)
    want = {l: row[backend.tokenize(f" {l}", bos=False)[-1]] for l in PRIME.letters}
    r = backend.score(PRIME, method="letter")
    assert r.scores == want and r.prompt_tokens == len(tokens)
    assert r.answer == max(want, key=want.get)


def test_the_fit_check_says_one_thing_for_both_methods():
    backend = FakeBackend(n_ctx=200)
    n_letter = len(backend.tokenize(render_letter_prompt(LONG))) + 1
    item = backend.cloze_request(render_cloze_prefix(LONG), LONG.options)
    n_cloze = len(item.prefix) + max(map(len, item.conts))
    for method, n in (("letter", n_letter), ("cloze", n_cloze)):
        with pytest.raises(InputError) as err:
            backend.score(LONG, method=method)
        assert err.value.message == (f"prompt is {n} tokens; the model context holds 200 "
                                     "(shorten the question or retrieve fewer notes)")
    assert backend.calls == []  # nothing too long reaches the backend


@pytest.mark.parametrize("method,norm", [("cloze", "token"), ("cloze", "pmi"), ("letter", "token")])
def test_score_many_is_score_per_question(method, norm):
    backend = FakeBackend(n_ctx=200, cloze_norm=norm)
    questions = [PARIS, LONG, PRIME]
    notes = [[Passage("Paris is the capital.", "geo.md:1")], [], []]
    many = backend.score_many(questions, notes, method)
    backend.calls.clear()
    assert isinstance(many[1], InputError) and "context holds" in many[1].message
    for q, ps, got in zip([PARIS, PRIME], [notes[0], []], [many[0], many[2]]):
        one = backend.score(q, ps, method)
        assert (got.scores, got.probabilities, got.answer, got.prompt_tokens, got.method) == \
               (one.scores, one.probabilities, one.answer, one.prompt_tokens, one.method)
        # cloze: its share of the backend's time (1 ms per request) and its own work
        assert got.latency_ms >= 1.0 if method == "cloze" else got.latency_ms > 0


def test_score_many_makes_one_backend_call_with_every_request():
    backend = FakeBackend(cloze_norm="pmi")
    backend.score_many([PARIS, PRIME], method="cloze")
    [call] = backend.calls
    assert call == [backend.cloze_request(render_cloze_prefix(PARIS), PARIS.options),
                    backend.cloze_request(CLOZE_UNCONDITIONAL_PREFIX, PARIS.options),
                    backend.cloze_request(render_cloze_prefix(PRIME), PRIME.options),
                    backend.cloze_request(CLOZE_UNCONDITIONAL_PREFIX, PRIME.options)]


def test_unknown_method_is_an_input_error_in_its_place():
    backend = FakeBackend()
    with pytest.raises(InputError, match="unknown scoring method"):
        backend.score(PRIME, method="vibes")
    assert all(isinstance(r, InputError) for r in backend.score_many([PRIME, PARIS], method="vibes"))


def test_score_many_serves_each_option_kind_by_its_method_in_one_cloze_call():
    backend = FakeBackend()
    backend.method_by_kind = {"numeric": "letter"}  # text falls to the default, cloze
    colour = MCQ("Which is a colour?", ("red", "dog", "a car"))
    many = backend.score_many([PARIS, PRIME, colour])
    assert [r.method for r in many] == ["cloze", "letter", "cloze"]
    [call] = backend.calls  # the numeric question never reaches the cloze call
    assert call == [backend.cloze_request(render_cloze_prefix(q), q.options) for q in (PARIS, colour)]
    assert many[1].scores == backend.score(PRIME, method="letter").scores
    assert [r.method for r in backend.score_many([PARIS, PRIME], method="cloze")] == ["cloze", "cloze"]
