"""200 questions written by independent writers (Moodle XML, GIFT, Aiken) read back identically,
and a bank written as GIFT by our exporter reads back as the same bank.

The writers here are deliberately separate from the readers and from core/writers: they
follow the formats as Moodle documents them (ElementTree for XML, a regular expression for
GIFT escapes), so a reader bug cannot cancel out a matching writer bug.
"""

from __future__ import annotations

import html
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers import read_bank
from probllms_tui.core.writers.gift import write_gift

BUILTIN = Path(__file__).resolve().parents[2] / "probllms_tui" / "bank" / "builtin.jsonl"
WORDS = ("cell", "energy", "a~b", "x = y", "#3", "{set}", "ratio 1:2", "C:\\temp", "<tag>", "a & b",
         "θ", "résumé", "→", "$\\frac{1}{2}$", "50%", "[html]", "::", "//", "vector", "matrix",
         "quote \"q\"", "it's", "f(x)", "n!", "p < 0.05", "e^{i\\pi}")
TOPICS = ("", "Physics", "Physics/Optics", "Biology/Genetics", "Maths")


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_questions(n: int = 200, *, seed: int = 1, topics: bool = True, true_false: bool = True,
                   explanations: bool = True, multiline: bool = True) -> list[MCQ]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        stem = f"Q{i}: " + text(rng, rng.randint(2, 8))
        if multiline and i % 7 == 0:
            stem += "\nsecond line " + text(rng, 2)
        if true_false and i % 5 == 0:
            options = ("True", "False")
        else:
            options = tuple(f"{chr(97 + k)}) {text(rng, rng.randint(1, 4))}" for k in range(rng.randint(2, 6)))
        answer = rng.choice("AB" if len(options) == 2 else "ABCDEF"[: len(options)])
        subject = TOPICS[(i // 10) % len(TOPICS)] if topics else ""
        explanation = text(rng, 5) if explanations and i % 3 else ""
        out.append(MCQ(stem, options, answer, subject, "", explanation))
    return out


def same(a: list[MCQ], b: list[MCQ]) -> None:
    key = lambda q: (q.stem, q.options, q.answer, q.subject, q.explanation, q.id)  # noqa: E731
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert key(x) == key(y)


# --- independent writers -------------------------------------------------------------------

def moodle_xml(questions: list[MCQ]) -> bytes:
    def rich(parent: ET.Element, tag: str, value: str) -> None:
        node = ET.SubElement(parent, tag, format="html")
        ET.SubElement(node, "text").text = "<p>" + html.escape(value).replace("\n", "<br />") + "</p>"

    quiz = ET.Element("quiz")
    topic = None
    for i, q in enumerate(questions):
        if q.subject != topic:
            topic = q.subject
            cat = ET.SubElement(quiz, "question", type="category")
            ET.SubElement(ET.SubElement(cat, "category"), "text").text = f"$course$/top/{topic}"
        tf = q.options == ("True", "False")
        node = ET.SubElement(quiz, "question", type="truefalse" if tf else "multichoice")
        ET.SubElement(ET.SubElement(node, "name"), "text").text = f"q{i}"
        rich(node, "questiontext", q.stem)
        rich(node, "generalfeedback", q.explanation) if q.explanation else None
        if not tf:
            ET.SubElement(node, "single").text = "true"
        for letter, option in zip(q.letters, q.options):
            answer = ET.SubElement(node, "answer", fraction="100" if letter == q.answer else "0",
                                   format="moodle_auto_format" if tf else "html")
            if tf:
                ET.SubElement(answer, "text").text = option.lower()
            else:
                ET.SubElement(answer, "text").text = html.escape(option)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="utf-8")


def gift(questions: list[MCQ]) -> str:
    def esc(value: str) -> str:
        return re.sub(r"([~=#{}:\\])", r"\\\1", value).replace("\n", "\\n")

    def fmt(value: str, i: int) -> str:
        if i % 3 == 0:  # the same text as HTML, as Moodle's editor exports it
            return "[html]" + esc(html.escape(value).replace("\n", "<br>"))
        return "[plain]" + esc(value)

    chunks, topic = [], ""
    for i, q in enumerate(questions):
        if q.subject != topic:
            topic = q.subject
            chunks.append(f"// category\n$CATEGORY: $course$/top/{topic}")
        feedback = f"\n####{fmt(q.explanation, i)}" if q.explanation else ""
        if q.options == ("True", "False"):
            block = ("T" if q.answer == "A" else "FALSE") + "#feedback here" + feedback
        else:
            block = "\n".join(("=" if l == q.answer else rng_weight(i)) + fmt(o, i) + f" #why {l}"
                              for l, o in zip(q.letters, q.options)) + feedback
        chunks.append(f"// question {i}\n::Question {i}::{fmt(q.stem, i)}{{\n{block}\n}}")
    return "\n\n".join(chunks) + "\n"


def rng_weight(i: int) -> str:
    return "~%-50%" if i % 4 == 0 else "~"  # negative weights are wrong answers too


def aiken(questions: list[MCQ]) -> str:
    blocks = []
    for i, q in enumerate(questions):
        sep = ")" if i % 2 else "."
        lines = [q.stem] + [f"{l}{sep} {o}" for l, o in zip(q.letters, q.options)] + [f"ANSWER: {q.answer}"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


# --- the tests -----------------------------------------------------------------------------

def test_200_questions_from_an_independent_moodle_xml_writer(tmp_path):
    questions = make_questions()
    path = tmp_path / "bank.xml"
    path.write_bytes(moodle_xml(questions))
    load = read_bank(path, strict=True)
    same(load.questions, questions)


def test_200_questions_from_an_independent_gift_writer(tmp_path):
    questions = make_questions(seed=2)
    path = tmp_path / "bank.gift"
    path.write_text(gift(questions), encoding="utf-8")
    load = read_bank(path, strict=True)
    assert load.skipped == []
    same(load.questions, questions)


def test_200_questions_from_an_independent_aiken_writer(tmp_path):
    # Aiken has no topics, explanations or line breaks in a question.
    questions = make_questions(seed=3, topics=False, explanations=False, multiline=False)
    path = tmp_path / "bank.txt"
    path.write_text(aiken(questions), encoding="utf-8")
    load = read_bank(path, strict=True)
    same(load.questions, questions)


def test_bank_to_gift_to_bank_is_identical(tmp_path):
    builtin = read_bank(BUILTIN).questions  # explicit ids like "ml-01" must survive too
    tricky = make_questions(60, seed=4)
    for original in (builtin, tricky):
        text, left_out = write_gift(original)
        assert left_out == []
        path = tmp_path / "export.gift"
        path.write_text(text, encoding="utf-8")
        same(read_bank(path, strict=True).questions, original)


def test_questions_without_an_answer_are_not_written_as_gift():
    pasted = MCQ("Which?", ("a", "b"), None)
    text, left_out = write_gift([pasted, MCQ("Sure?", ("True", "False"), "A")])
    assert [q for q, _ in left_out] == [pasted] and "Which?" not in text and "{TRUE}" in text


def test_gift_export_keeps_texts_that_look_like_gift_syntax(tmp_path):
    """A stem starting with "//" read as a comment, an option starting with "%5%" as a weight;
    an option with "->" makes Moodle read a matching question, so it is left out, saying why."""
    kept = [MCQ("// is this a comment?", ("yes", "no"), "B"), MCQ("Share?", ("%5% of the mass", "10%"), "A"),
            MCQ("Other share?", ("half", "%5% of it"), "A")]
    arrow = MCQ("Contrapositive of p -> q?", ("not q -> not p", "q -> p"), "A")
    text, left_out = write_gift(kept + [arrow])
    assert [(q, why) for q, why in left_out] == [(arrow, "an option contains '->', which GIFT reads as a matching question")]
    # Moodle reads weights after "~" only: the right answer stays "=text" (a "~%100%" would
    # import as a checkbox question), a wrong one gets "~%0%" before its own "%5%".
    assert "=%5% of the mass" in text and "~%0%%5% of it" in text and "~%100%" not in text
    path = tmp_path / "export.gift"
    path.write_text(text, encoding="utf-8")
    same(read_bank(path, strict=True).questions, kept)
