"""The pasted-question parser against layouts copied from real exam sheets, PDFs and LMS exports."""

from __future__ import annotations

import pytest

from probllms_tui.core.errors import InputError
from probllms_tui.core.paste import MAX_PASTE_CHARS, parse_pasted
from probllms_tui.core.prompt import render_letter_prompt

FOUR = ("4", "6", "7", "9")

# (id, pasted text, expected stem, expected options, expected answer letter or None)
LAYOUTS = [
    ("seed-format",
     "Question: Which number is prime?\n\nOptions:\nA. 4\nB. 6\nC. 7\nD. 9\n\nAnswer:",
     "Which number is prime?", FOUR, None),
    ("A)-lines",
     "Which number is prime?\nA) 4\nB) 6\nC) 7\nD) 9",
     "Which number is prime?", FOUR, None),
    ("A.-lines",
     "Which number is prime?\nA. 4\nB. 6\nC. 7\nD. 9",
     "Which number is prime?", FOUR, None),
    ("(a)-lines",
     "Which number is prime?\n(a) 4\n(b) 6\n(c) 7\n(d) 9",
     "Which number is prime?", FOUR, None),
    ("a)-lines",
     "Which number is prime?\na) 4\nb) 6\nc) 7\nd) 9",
     "Which number is prime?", FOUR, None),
    ("(A)-lines",
     "Which number is prime?\n(A) 4\n(B) 6\n(C) 7\n(D) 9",
     "Which number is prime?", FOUR, None),
    ("A:-lines",
     "Which number is prime?\nA: 4\nB: 6\nC: 7\nD: 9",
     "Which number is prime?", FOUR, None),
    ("1.-lines",
     "Which number is prime?\n1. 4\n2. 6\n3. 7\n4. 9",
     "Which number is prime?", FOUR, None),
    ("1)-lines",
     "Which number is prime?\n1) 4\n2) 6\n3) 7\n4) 9",
     "Which number is prime?", FOUR, None),
    ("dash-bullets",
     "Which number is prime?\n- 4\n- 6\n- 7\n- 9",
     "Which number is prime?", FOUR, None),
    ("unicode-bullets",
     "Which number is prime?\n• 4\n• 6\n• 7\n• 9",
     "Which number is prime?", FOUR, None),
    ("inline-A)",
     "Which number is prime? A) 4 B) 6 C) 7 D) 9",
     "Which number is prime?", FOUR, None),
    ("inline-(a)",
     "Which number is prime? (a) 4 (b) 6 (c) 7 (d) 9",
     "Which number is prime?", FOUR, None),
    ("inline-A.",
     "Which number is prime? A. 4 B. 6 C. 7 D. 9",
     "Which number is prime?", FOUR, None),
    ("inline-on-own-line",
     "Which number is prime?\nA) 4   B) 6   C) 7   D) 9",
     "Which number is prime?", FOUR, None),
    ("inline-after-options-header",
     "Which number is prime?\nOptions: A) 4 B) 6 C) 7 D) 9",
     "Which number is prime?", FOUR, None),
    ("inline-stem-mentions-vitamin-A.",
     "Which food is rich in vitamin A. Pick one: A) carrots B) sugar C) salt",
     "Which food is rich in vitamin A. Pick one:", ("carrots", "sugar", "salt"), None),
    ("inline-option-with-e.g.",
     "Pick a data structure: (a) a list, e.g. [1, 2] (b) a set (c) a map",
     "Pick a data structure:", ("a list, e.g. [1, 2]", "a set", "a map"), None),
    ("options-header",
     "Which number is prime?\nOptions:\nA) 4\nB) 6\nC) 7\nD) 9",
     "Which number is prime?", FOUR, None),
    ("choices-header",
     "Which number is prime?\n\nChoices\n\na. 4\nb. 6\nc. 7\nd. 9",
     "Which number is prime?", FOUR, None),
    ("answer-with-letter",
     "Which number is prime?\nA) 4\nB) 6\nC) 7\nD) 9\nAnswer: C",
     "Which number is prime?", FOUR, "C"),
    ("answer-without-letter",
     "Which number is prime?\nA) 4\nB) 6\nC) 7\nD) 9\nAnswer:",
     "Which number is prime?", FOUR, None),
    ("answer-lowercase-paren",
     "Which number is prime?\n(a) 4\n(b) 6\n(c) 7\n(d) 9\n\nCorrect answer: (c)",
     "Which number is prime?", FOUR, "C"),
    ("answer-number-label",
     "Which number is prime?\n1. 4\n2. 6\n3. 7\n4. 9\nAnswer: 3",
     "Which number is prime?", FOUR, "C"),
    ("answer-with-option-text",
     "Which number is prime?\nA) 4\nB) 6\nC) 7\nD) 9\nAnswer: C) 7",
     "Which number is prime?", FOUR, "C"),
    ("crlf",
     "Which number is prime?\r\nA) 4\r\nB) 6\r\nC) 7\r\nD) 9\r\nAnswer: D\r\n",
     "Which number is prime?", FOUR, "D"),
    ("blank-lines-between-options-pdf",
     "Which number is prime?\n\nA) 4\n\nB) 6\n\nC) 7\n\nD) 9\n",
     "Which number is prime?", FOUR, None),
    ("question-number-prefix",
     "Question 3: Which number is prime?\nA) 4\nB) 6\nC) 7\nD) 9",
     "Which number is prime?", FOUR, None),
    ("q-prefix",
     "Q2. Which number is prime?\na. 4\nb. 6\nc. 7\nd. 9",
     "Which number is prime?", FOUR, None),
    ("exam-number-before-stem",
     "7. Which number is prime?\n(a) 4\n(b) 6\n(c) 7\n(d) 9",
     "Which number is prime?", FOUR, None),
    ("multi-line-stem",
     "A fair die is rolled twice.\nLet X be the sum of the two rolls.\nWhat is P(X = 2)?\nA. 1/6\nB. 1/12\nC. 1/36\nD. 1/2",
     "A fair die is rolled twice.\nLet X be the sum of the two rolls.\nWhat is P(X = 2)?",
     ("1/6", "1/12", "1/36", "1/2"), None),
    ("multi-line-options",
     "Which statement about gradient descent is true?\nA) It always finds the global\n   minimum of any function.\nB) Its step size must\n   decrease over time.\nC) It follows the negative gradient.\nD) It needs second derivatives.",
     "Which statement about gradient descent is true?",
     ("It always finds the global\nminimum of any function.", "Its step size must\ndecrease over time.",
      "It follows the negative gradient.", "It needs second derivatives."), None),
    ("numbered-statements-then-letters",
     "Which of the following are true?\n1. Every tree is a graph.\n2. Every graph is a tree.\n3. A tree with n nodes has n-1 edges.\nA) 1 only\nB) 1 and 3\nC) 2 and 3\nD) 1, 2 and 3",
     "Which of the following are true?\n1. Every tree is a graph.\n2. Every graph is a tree.\n3. A tree with n nodes has n-1 edges.",
     ("1 only", "1 and 3", "2 and 3", "1, 2 and 3"), None),
    ("roman-statements-then-letters",
     "Consider the statements:\nI. P is closed under complement.\nII. NP is closed under union.\nA. I only\nB. II only\nC. I and II\nD. Neither",
     "Consider the statements:\nI. P is closed under complement.\nII. NP is closed under union.",
     ("I only", "II only", "I and II", "Neither"), None),
    ("latex-options",
     "Compute $\\int_0^1 x\\,dx$.\nA) $\\frac{1}{2}$\nB) $1$\nC) $\\frac{1}{3}$\nD) $\\sqrt{2}$",
     "Compute $\\int_0^1 x\\,dx$.",
     ("$\\frac{1}{2}$", "$1$", "$\\frac{1}{3}$", "$\\sqrt{2}$"), None),
    ("latex-paren-math-in-stem",
     "Let \\(f(x) = x^2\\). What is \\(f'(3)\\)?\n(a) 3\n(b) 6\n(c) 9\n(d) 0",
     "Let \\(f(x) = x^2\\). What is \\(f'(3)\\)?", ("3", "6", "9", "0"), None),
    ("unicode-kept",
     "Quelle est la dérivée de sin(θ) ? ∀ θ ∈ ℝ\nA) cos(θ)\nB) −sin(θ)\nC) tan(θ)\nD) 1/cos²(θ)",
     "Quelle est la dérivée de sin(θ) ? ∀ θ ∈ ℝ", ("cos(θ)", "−sin(θ)", "tan(θ)", "1/cos²(θ)"), None),
    ("three-options",
     "Is 0 a natural number in ISO 80000-2?\nA) yes\nB) no\nC) undefined",
     "Is 0 a natural number in ISO 80000-2?", ("yes", "no", "undefined"), None),
    ("five-options-answer-E",
     "Which is largest?\nA) 1\nB) 2\nC) 3\nD) 4\nE) 5\nAnswer: E",
     "Which is largest?", ("1", "2", "3", "4", "5"), "E"),
    ("two-options-true-false",
     "The empty set is a subset of every set.\na) True\nb) False",
     "The empty set is a subset of every set.", ("True", "False"), None),
    ("tab-after-label",
     "Which number is prime?\nA)\t4\nB)\t6\nC)\t7\nD)\t9",
     "Which number is prime?", FOUR, None),
    ("indented-options",
     "Which number is prime?\n    A. 4\n    B. 6\n    C. 7\n    D. 9",
     "Which number is prime?", FOUR, None),
    ("moodle-select-one",
     "Which number is prime?\nSelect one:\na. 4\nb. 6\nc. 7\nd. 9",
     "Which number is prime?", FOUR, None),
    ("options-are-numbers-starting-with-digits",
     "How many edges has K4?\nA) 6 edges\nB) 4 edges\nC) 12 edges\nD) 3 edges",
     "How many edges has K4?", ("6 edges", "4 edges", "12 edges", "3 edges"), None),
    ("code-in-stem",
     "What does f(3) return?\ndef f(x):\n    return x * 2\nA) 3\nB) 6\nC) 9\nD) an error",
     "What does f(3) return?\ndef f(x):\n    return x * 2", ("3", "6", "9", "an error"), None),
]


@pytest.mark.parametrize("text,stem,options,answer", [c[1:] for c in LAYOUTS], ids=[c[0] for c in LAYOUTS])
def test_real_layouts_parse(text, stem, options, answer):
    q = parse_pasted(text)
    assert q.stem == stem
    assert q.options == options
    assert q.answer == answer


def test_seed_prompt_round_trips():
    """The seed layout the prompt renders parses back into the same question."""
    text = "Question: Which gas do plants take in?\n\nOptions:\nA. oxygen\nB. carbon dioxide\nC. helium\n\nAnswer:"
    q = parse_pasted(text)
    assert render_letter_prompt(q) == text


def test_lone_carriage_return_inside_latex_is_kept():
    """Real rows (TheoremQA) hold a literal CR from a JSON-escaped '\\right'; it is text, not a line end."""
    text = "Question: What is $\\lim \\left\\{x\right\\}$?\n\nOptions:\nA. 0\nB. 1\n\nAnswer:"
    q = parse_pasted(text)
    assert "\right" in q.stem
    assert render_letter_prompt(q) == text


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"),
    ("   \n\t\n", "empty"),
    ("Which number is prime? Explain your reasoning.", "no options"),
    ("Which number is prime?\nA) 7", "only one option"),
    ("Which number is prime? A) 7", "no options"),
    ("A) 4\nB) 6\nC) 7", "no question stem"),
    ("x" * (MAX_PASTE_CHARS + 1), "characters"),
    ("Which?\x00\x01\x02\nA) 1\nB) 2", "binary"),
    (bytes(range(256)).decode("latin-1") * 4, "binary"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".decode("utf-8", errors="replace"), "binary"),
], ids=["empty", "blank", "no-options", "one-option", "inline-one-option", "no-stem", "too-long",
        "nul-bytes", "all-bytes", "png-header"])
def test_bad_input_is_one_clear_line(text, fragment):
    with pytest.raises(InputError) as info:
        parse_pasted(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message and len(message) < 200


def test_one_megabyte_is_rejected_quickly():
    import time

    t0 = time.perf_counter()
    with pytest.raises(InputError, match="characters"):
        parse_pasted("Which is prime? A) 4 B) 6\n" * 40_000)
    assert time.perf_counter() - t0 < 1.0


def test_answer_naming_no_option_is_an_error():
    with pytest.raises(InputError, match="answer"):
        parse_pasted("Which number is prime?\nA) 4\nB) 6\nAnswer: D")


def test_eleven_options_is_an_error():
    text = "Pick one\n" + "\n".join(f"{i}. option {i}" for i in range(1, 12))
    with pytest.raises(InputError, match="at most 10"):
        parse_pasted(text)


def test_answer_line_in_words_is_not_read_as_a_label():
    """'Answer: a cell' is option b's text, not label 'a'; the line is not part of an option."""
    q = parse_pasted("What is the unit of life?\na) an atom\nb) a cell\nAnswer: a cell")
    assert q.options == ("an atom", "a cell")
    assert q.answer == "B"
    q = parse_pasted("What is the unit of life?\n- an atom\n- a cell\nAnswer: I am not sure")
    assert q.options == ("an atom", "a cell")
    assert q.answer is None


@pytest.mark.parametrize("text", [
    "Which is prime?\nA - 4\nB - 6\nC - 7\nD - 9",
    "Which is prime?\n[A] 4\n[B] 6\n[C] 7\n[D] 9",
    "Which is prime?\nA)4\nB)6\nC)7\nD)9",
    "Which is prime?\nA\uff09 4\nB\uff09 6\nC\uff09 7\nD\uff09 9",
    "Which is prime?\n\u25cb 4\n\u25cb 6\n\u25cb 7\n\u25cb 9",
    "Question 3\nNot yet answered\nMarked out of 1.00\nFlag question\nQuestion text\nWhich is prime?\n"
    "Select one:\na.\n4\nb.\n6\nc.\n7\nd.\n9",
    "Question 3 (2 points)\nWhich is prime?\nA) 4\nB) 6\nC) 7\nD) 9",
    "Question 3 (2 points) Which is prime? A) 4 B) 6 C) 7 D) 9",
], ids=["dash", "brackets", "no-space", "full-width", "circles", "moodle-page", "points-line", "points-inline"])
def test_layouts_copied_from_lms_pages_and_pdfs(text):
    q = parse_pasted(text)
    assert q.stem == "Which is prime?" and q.options == ("4", "6", "7", "9")


@pytest.mark.parametrize("tail", [
    "Answer: C", "Answer: 7", "Answer: C\nExplanation: 7 has no divisors but 1 and itself.",
    "Your answer is incorrect.\nThe correct answer is: 7", "Correct answer: C\nFeedback: see lecture 2",
])
def test_an_answer_key_after_the_options_is_read_not_glued_to_the_last_option(tail):
    q = parse_pasted("Which is prime?\nA) 4\nB) 6\nC) 7\nD) 9\n" + tail)
    assert q.options == ("4", "6", "7", "9") and q.answer == "C"
    inline = parse_pasted("Which is prime? A) 4 B) 6 C) 7 D) 9 Answer: C")
    assert inline.options == ("4", "6", "7", "9") and inline.answer == "C"


def test_unlabelled_true_false_and_a_stem_that_mentions_labels():
    tf = parse_pasted("The sample mean is unbiased.\nSelect one:\nTrue\nFalse")
    assert tf.stem == "The sample mean is unbiased." and tf.options == ("True", "False")
    plans = parse_pasted("In plan A) we invest, in plan B) we wait. Which is riskier? A) plan A B) plan B C) both")
    assert plans.stem.endswith("Which is riskier?") and plans.options == ("plan A", "plan B", "both")
    wrapped = parse_pasted("Which holds?\nA) The\nanswer is undefined\nB) 2")
    assert wrapped.options == ("The\nanswer is undefined", "2")


def test_layouts_that_look_like_labels_inside_stems_and_options():
    vit = parse_pasted("Night blindness is caused by a deficiency of: A) Vitamin A. B) Vitamin B. C) Vitamin C. D) Vitamin D.")
    assert vit.stem.endswith("deficiency of:") and vit.options == ("Vitamin A.", "Vitamin B.", "Vitamin C.", "Vitamin D.")
    assert parse_pasted("Q1 is the first quartile. Which is larger?\nA) Q1\nB) Q3").stem.startswith("Q1 is")
    conc = parse_pasted("Given:\n[A] = 0.10 M\n[B] = 0.20 M\nWhat is the order?\n1) 0\n2) 1\n3) 2")
    assert conc.options == ("0", "1", "2") and "[A] = 0.10 M" in conc.stem
    trees = parse_pasted("Consider:\nA - every tree is a graph\nB - every graph is a tree\nWhich holds?\n1. A only\n2. B only")
    assert trees.options == ("A only", "B only")
    moodle = parse_pasted("Which is prime?\na. 4\nb. 2\nc. 9\nd. 8\nYour answer is incorrect.\nThe correct answer is: 2")
    assert moodle.answer == "B"  # Moodle names the option by its text, here a number
    mid = parse_pasted("What is 6*7?\nA) 41\nB) 40\nC) The answer: 42\nD) 43")
    assert mid.options == ("41", "40", "The answer: 42", "43") and mid.answer is None


def test_feedback_words_inside_the_question_stay_where_they_are():
    stem_line = parse_pasted("Label each step:\nStep 1 is\ncorrect\nWhich step fails?\nA) 1\nB) 2")
    assert stem_line.stem == "Label each step:\nStep 1 is\ncorrect\nWhich step fails?"
    statements = parse_pasted("Consider:\n1. x>0\n2. y>0\nExplanation: both are needed.\nWhich is required?\n"
                              "A) 1 only\nB) 2 only\nC) both")
    assert statements.options == ("1 only", "2 only", "both") and "Explanation: both" in statements.stem
    assert parse_pasted("Fill in:\nA) Answer: yes\nB) Answer: no").options == ("Answer: yes", "Answer: no")
