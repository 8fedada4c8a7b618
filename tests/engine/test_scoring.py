"""The answer engine on the real default GGUF: probabilities, both methods, cache reuse,
agreement with an independent scorer written here on plain llama-cpp-python."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import Passage, cloze_continuation, render_cloze_prefix, render_letter_prompt
from probllms_tui.core.readers import read_bank
from probllms_tui.engine.base import Engine
from probllms_tui.engine.cloze import CLOZE_NORMS, OptionLikelihood, normalise

pytestmark = pytest.mark.slow

PRIME = MCQ("Which number is prime?", ("4", "6", "7", "9"))
PLANET = MCQ("Which planet is closest to the Sun?", ("Mercury", "Venus", "Earth", "Mars", "Jupiter"))
GAS = MCQ("Which gas do plants take in for photosynthesis?", ("oxygen", "carbon dioxide", "helium"))


@pytest.fixture(scope="module")
def arc_questions(shared_data):
    """Ten real ARC-Easy questions (the shortest of the first 60, to keep the raw scorer quick)."""
    path = shared_data / "ARC-Easy_mcqa.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found")
    head = read_bank(path).questions[:60]
    return sorted(head, key=lambda q: len(render_letter_prompt(q)))[:10]


@pytest.fixture(scope="module")
def raw_llm(default_gguf):
    """Plain llama-cpp-python, fresh context per evaluation: the independent reference.

    It reads the last position's logits with the C API's ``llama_get_logits_ith`` rather than
    opening the model with ``logits_all=True`` and reading ``Llama.scores``: that computes the
    262k-entry output layer for every prompt token and made this test take minutes on 2 cores.
    """
    from llama_cpp import Llama

    llm = Llama(model_path=str(default_gguf), n_ctx=256, logits_all=False, verbose=False,
                n_threads=1, n_threads_batch=2)
    yield llm
    llm.close()


def raw_next_logits(llm, tokens: list[int]) -> np.ndarray:
    """Evaluate ``tokens`` on a fresh cache; the logits that predict the next token."""
    import llama_cpp

    llm.reset()
    llm.eval(tokens)
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float64)


def log_softmax(row: np.ndarray) -> np.ndarray:
    m = row.max()
    return row - (m + np.log(np.exp(row - m).sum()))


def test_engine_satisfies_the_protocol(default_engine):
    assert isinstance(default_engine, Engine)
    assert default_engine.name == "gemma3-270m-q4_k_m" and default_engine.quantization == "Q4_K_M"


@pytest.mark.parametrize("method", ["letter", "cloze"])
@pytest.mark.parametrize("q", [PRIME, PLANET, GAS], ids=["4-options", "5-options", "3-options"])
def test_probabilities_cover_exactly_the_options(default_engine, q, method):
    r = default_engine.score(q, method=method)
    assert list(r.probabilities) == list(q.letters)
    assert math.isclose(sum(r.probabilities.values()), 1.0, abs_tol=1e-9)
    assert all(0.0 < p < 1.0 for p in r.probabilities.values())
    assert r.answer == max(r.probabilities, key=r.probabilities.get)
    assert r.method == method and r.model == default_engine.name
    assert r.latency_ms > 0 and r.prompt_tokens > 5


def test_unknown_method_is_an_input_error(default_engine):
    with pytest.raises(InputError, match="unknown scoring method"):
        default_engine.score(PRIME, method="vibes")


def test_scores_do_not_depend_on_what_was_asked_before(default_engine):
    """The same question gets exactly the same numbers whatever the cache held before
    (another question, an explanation), and re-scoring it reuses its prefix exactly."""
    first = default_engine.cloze_likelihoods(PLANET)
    first_letter = default_engine.score(PLANET, method="letter").probabilities
    default_engine.score(GAS, method="cloze")  # shares "<bos>Question: Which " with PLANET
    list(default_engine.stream_explanation(GAS, "B", max_tokens=3))
    again = default_engine.cloze_likelihoods(PLANET)
    assert again == first
    assert default_engine.score(PLANET, method="letter").probabilities == first_letter
    assert default_engine.score(PLANET, method="letter").probabilities == first_letter  # cached prefix


def test_cloze_matches_a_direct_computation(default_engine, raw_llm):
    """Each option's log-likelihood equals the sum of log-softmax over its tokens computed
    from scratch on plain llama-cpp-python (a fresh evaluation of prefix + option).

    Two tolerances, because llama.cpp's CPU numbers move with what one decode holds (the
    default model is that sensitive: its KV cache in F32 instead of F16 moves these same
    numbers by 0.2-0.5 nats; docs/measurements.md, Batched scoring). The sequential path
    decodes the prefix alone, as the reference does, so it agrees closely. The batched
    path decodes the prefix together with the options' tokens, which moved a one-token
    option by 0.10 nats on one machine. A token read at the wrong position or against the
    wrong target costs whole nats, so both checks still catch a scoring mistake.
    """
    q = GAS
    prefix = render_cloze_prefix(q)
    n_prefix = len(raw_llm.tokenize(prefix.encode("utf-8"), add_bos=True))
    expected = {}
    for letter, option in zip(q.letters, q.options):
        tokens = raw_llm.tokenize((prefix + cloze_continuation(option)).encode("utf-8"), add_bos=True)
        expected[letter] = (len(tokens) - n_prefix, sum(
            log_softmax(raw_next_logits(raw_llm, tokens[:i]))[tokens[i]] for i in range(n_prefix, len(tokens))))
    for batch_options, tolerance in ((False, 0.05), (True, 0.3)):
        default_engine.batch_options = batch_options
        try:
            got = default_engine.cloze_likelihoods(q)
        finally:
            default_engine.batch_options = True
        for letter, (n_tokens, logprob) in expected.items():
            assert got[letter].n_tokens == n_tokens
            assert got[letter].logprob == pytest.approx(logprob, abs=tolerance), (batch_options, letter)
        assert max(got, key=lambda l: got[l].logprob) == max(expected, key=lambda l: expected[l][1])


def test_letter_method_agrees_with_an_independent_scorer(default_engine, raw_llm, arc_questions):
    """On real ARC questions: the same choice and near-identical probabilities as the
    next-token logits of ' A', ' B', ... after the seed prompt on a fresh llama.cpp context."""
    agree = 0
    for q in arc_questions:
        logits = raw_next_logits(raw_llm, raw_llm.tokenize(render_letter_prompt(q).encode(), add_bos=True))
        ids = [raw_llm.tokenize(f" {l}".encode(), add_bos=False)[-1] for l in q.letters]
        lp = log_softmax(logits)[ids]
        reference = np.exp(lp - lp.max()) / np.exp(lp - lp.max()).sum()
        got = default_engine.score(q, method="letter")
        agree += got.answer == q.letters[int(np.argmax(reference))]
        assert [got.probabilities[l] for l in q.letters] == pytest.approx(list(reference), abs=1e-3)
    assert agree == len(arc_questions)


def test_passages_are_part_of_the_prompt(default_engine):
    notes = [Passage("Mercury is the planet closest to the Sun.", "astro.md:1-2")]
    plain = default_engine.score(PLANET, method="cloze")
    helped = default_engine.score(PLANET, notes, method="cloze")
    assert helped.prompt_tokens > plain.prompt_tokens + 5
    assert helped.probabilities["A"] > plain.probabilities["A"]


def test_normalisations_on_known_numbers():
    opts = {"A": OptionLikelihood(-4.0, 2, 8, -1.0), "B": OptionLikelihood(-6.0, 6, 24, -5.0)}
    assert normalise(opts, "sum") == {"A": -4.0, "B": -6.0}  # short option wins on the raw sum
    token = normalise(opts, "token")
    assert token["B"] > token["A"]  # -1.0/token beats -2.0/token
    assert token == {"A": -2.0 * 4, "B": -1.0 * 4}  # rescaled to the mean length, 4 tokens
    byte = normalise(opts, "byte")
    assert byte["B"] > byte["A"]
    assert normalise(opts, "pmi") == {"A": -3.0, "B": -1.0}
    assert set(CLOZE_NORMS) == {"sum", "token", "byte", "pmi"}
    with pytest.raises(ValueError):
        normalise(opts, "median")


@pytest.mark.parametrize("norm", CLOZE_NORMS)
def test_every_cloze_normalisation_runs_on_the_engine(default_engine, norm, monkeypatch):
    monkeypatch.setattr(default_engine, "cloze_norm", norm)
    r = default_engine.score(GAS, method="cloze")
    assert r.method == "cloze" and math.isclose(sum(r.probabilities.values()), 1.0, abs_tol=1e-9)


def test_context_overflow_is_an_input_error(default_engine):
    long_stem = "Consider the following long passage. " + "The cat sat on the mat. " * 400
    q = MCQ(long_stem + "Where did the cat sit?", ("mat", "hat"))
    for method in ("letter", "cloze"):
        with pytest.raises(InputError, match="tokens; the model context holds"):
            default_engine.score(q, method=method)
    with pytest.raises(InputError, match="context"):
        list(default_engine.stream_explanation(q, "A", max_tokens=4))
    # the engine still answers afterwards
    assert default_engine.score(PRIME, method="cloze").answer in PRIME.letters
