"""The two scoring backends on the same weights: the tiny Llama as transformers loads it and
as an F16 GGUF. Both are ``ScoringTemplate``s (probllms_tui/engine/scoring.py), so the same
question must become the same requests, and the same numbers up to F16 rounding."""

from __future__ import annotations

import pytest

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import CLOZE_UNCONDITIONAL_PREFIX, Passage, render_cloze_prefix, render_letter_prompt

pytestmark = pytest.mark.slow

QUESTIONS = [
    MCQ("What is the time complexity of binary search?", ("O(log n)", "O(n)", "O(n log n)", "O(1)")),
    MCQ("Which data structure gives first in, first out order?", ("a queue", "a stack", "a hash table")),
]
NOTES = [Passage("A queue is first in, first out.", "lecture.md:3-4")]
# F16 weights against float32 (measured: under 0.001 nats), far below the gaps between
# options (tenths of a nat) or what a missing neutral pass would change (tens of nats).
TOLERANCE = 0.005


@pytest.fixture(scope="module")
def backends(tiny_hf, tiny_gguf):
    from probllms_tui.engine.llama import LlamaEngine
    from probllms_train.bench.hf_scorer import HFScorer
    from probllms_train.bench.models import resolve_model

    hf = HFScorer.load(resolve_model(str(tiny_hf)), n_ctx=512, method="cloze", cloze_norm="pmi")
    gguf = LlamaEngine(tiny_gguf, n_ctx=512, threads=(1, 2), cloze_norm="pmi")
    yield hf, gguf
    gguf.close()
    hf.close()


def test_the_same_question_becomes_the_same_requests(backends):
    hf, gguf = backends
    for q in QUESTIONS:
        for passages in ((), NOTES):
            letter = render_letter_prompt(q, passages)
            assert hf.tokenize(letter) == gguf.tokenize(letter)
            for prefix in (render_cloze_prefix(q, passages), CLOZE_UNCONDITIONAL_PREFIX):
                assert hf.cloze_request(prefix, q.options) == gguf.cloze_request(prefix, q.options)
        assert [hf.letter_token(l) for l in q.letters] == [gguf.letter_token(l) for l in q.letters]


@pytest.mark.parametrize("method", ["cloze", "letter"])
def test_both_backends_give_the_same_scores(backends, method):
    """pmi included: the transformers scorer runs the neutral pass as the engine does."""
    hf, gguf = backends
    for q in QUESTIONS:
        a, b = hf.score(q, NOTES, method), gguf.score(q, NOTES, method)
        assert a.scores == pytest.approx(b.scores, abs=TOLERANCE)
        assert a.prompt_tokens == b.prompt_tokens
    many = hf.score_many(QUESTIONS, [NOTES] * len(QUESTIONS), method)
    assert [r.scores for r in many] == [hf.score(q, NOTES, method).scores for q in QUESTIONS]
