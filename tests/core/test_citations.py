"""Checked citations: what the explanation guard lets through, streamed piece by piece."""

from __future__ import annotations

import pytest

from probllms_tui.core.citations import ExplanationGuard, guard_text


def stream(pieces, pick="C", n_sources=3, letters="ABCD"):
    guard = ExplanationGuard(pick, n_sources, letters)
    shown = [guard.feed(p) for p in pieces]
    return "".join(shown) + guard.flush(), guard, shown


def test_a_source_number_beyond_those_shown_never_reaches_the_screen():
    text, guard, _ = stream(["Heaps are built ", "bottom-up [", "4", "] in O(n) ", "time [1]."])
    assert "[4]" not in text and "[1]" in text
    assert text == "Heaps are built bottom-up in O(n) time [1]."
    assert guard.removed == ["[4]"]


def test_a_half_written_citation_is_held_back_not_shown_then_taken_back():
    _, _, shown = stream(["Because ", "of [", "7", "]", " heaps."], n_sources=2)
    assert all("[" not in s for s in shown)  # "[" alone was never emitted


def test_copied_location_markers_are_stripped_and_valid_lists_are_trimmed():
    out = guard_text("See (notes/probability.md:12-30) and [1, 5] or (slides.pdf p.4).", "C", 3)
    assert out == "See and [1] or."
    assert guard_text("Both [1][2] agree.", "C", 2) == "Both [1][2] agree."
    assert guard_text("No sources shown [1].", "C", 0) == "No sources shown."


@pytest.mark.parametrize("opening, other", [
    ("B. Because heaps are trees.", "B"),
    ("The answer is (B) since", "B"),
    ("Answer: D because", "D"),
    ("**A** is correct", "A"),
    ("The correct option is D.", "D"),
])
def test_an_explanation_arguing_for_another_letter_is_stopped(opening, other):
    text, guard, _ = stream([opening[:5], opening[5:], " more text"])
    assert guard.stopped and guard.contradiction == other
    assert opening not in text and f"argued for {other}" in text


@pytest.mark.parametrize("opening", ["C. Because it is", "The correct answer is C.", "A heap is a tree.",
                                     "Option A is wrong because", "I think the key is C."])
def test_openings_that_agree_or_are_prose_pass(opening):
    text, guard, _ = stream([opening])
    assert not guard.stopped and text == opening


def test_prose_is_released_without_waiting_for_the_sentence_to_end():
    _, _, shown = stream(["Because ", "the ", "heap"])
    assert shown[0] == "Because "  # not held back: it cannot name a letter


def test_copied_markers_with_spaces_in_the_path_are_stripped():
    # Student folders have spaces and accents in their names; the prompt shows those paths.
    assert guard_text("WAL (cours/db/transactions & B+ trees.md:3-7). Good.", "B", 1) == "WAL. Good."
    assert guard_text("See (cours/slides cours.pdf p.2) here.", "B", 1) == "See here."
    assert guard_text("Heaps (a kind of tree) are fast.", "B", 1) == "Heaps (a kind of tree) are fast."


def test_ranges_and_worded_citations_are_checked_like_plain_ones():
    assert guard_text("Cite [1-3].", "B", 1) == "Cite."  # a range past the sources goes whole
    assert guard_text("Cite [1\u20132].", "B", 2) == "Cite [1\u20132]."
    assert guard_text("Cite [Source 2].", "B", 1) == "Cite."
    assert guard_text("Cite [source 1].", "B", 1) == "Cite [source 1]."


@pytest.mark.parametrize("opening, other", [("Option C. Because", "C"), ("Choice (D): since", "D"),
                                            ("C is correct because", "C")])
def test_worded_openings_for_another_letter_are_stopped(opening, other):
    text, guard, _ = stream([opening, " more text"], pick="B")
    assert guard.contradiction == other and opening not in text


def test_an_opening_that_rejects_another_letter_is_not_read_as_arguing_for_it():
    text, guard, _ = stream(["C is wrong; B is right because the log persists."], pick="B")
    assert not guard.stopped and text.startswith("C is wrong")


def test_a_conclusion_for_another_letter_is_cut_with_a_note():
    pieces = ["Because durable logs", " persist. So", " the", " correct", " answer is", " C", ". Then more."]
    text, guard, shown = stream(pieces, pick="B")
    assert guard.stopped and guard.contradiction == "C"
    assert "answer is C" not in text and "Then more" not in text
    assert text.startswith("Because durable logs persist.") and "argued for C, not for the pick B" in text
    agreeing, guard, _ = stream(["Durable. Therefore the correct answer is B. Indeed."], pick="B")
    assert not guard.stopped and agreeing.endswith("answer is B. Indeed.")


def test_an_explanation_that_loops_is_stopped_after_the_first_repeat():
    sentence = "The log is written before the data pages, so a crash can be replayed. "
    pieces = ["Because durable. "] + [w + " " for w in (sentence * 6).split()]
    text, guard, _ = stream(pieces, pick="B")
    assert guard.looping and guard.stopped
    assert text.count("crash can be replayed") == 2 and len(text) < len(sentence) * 3 + 20
    text, guard, _ = stream(["Heaps are trees [1]. ", "A heap is built bottom-up in linear time. ",
                             "Insertion costs O(log n) per element."], pick="B")
    assert not guard.looping  # no verbatim repeat: shown whole


def test_prose_that_looks_like_citations_or_answers_is_left_alone():
    """Regex ranges, figure references, ratios and "the answer is a heap" are not citations
    or answer letters; a matrix or a quote written twice is not a loop."""
    prose = "Digits match [0-9]* and [1-9][0-9]* here; [0] is the first. See Figure 2.1 (p. 3) and (1.5:1)."
    assert guard_text(prose, "B", 2) == prose
    for text in ("Because a heap is complete, the correct answer is a heap-ordered tree.",
                 "The answer is a heap because it is complete."):
        assert guard_text(text, "B", 2) == text
    matrix = "$\\begin{pmatrix} 1 & 2 & 3 \\\\ 4 & 5 & 6 \\\\ 7 & 8 & 9 \\end{pmatrix}$"
    twice = f"A is {matrix} and A times A starts from {matrix} again."
    assert guard_text(twice, "B", 2) == twice


def test_a_letter_that_starts_a_word_is_not_taken_for_an_answer_mid_stream():
    text, guard, _ = stream(["Because it works.", " The correct answer is", " D", "ijkstra's algorithm."], pick="B")
    assert not guard.stopped and text == "Because it works. The correct answer is Dijkstra's algorithm."
