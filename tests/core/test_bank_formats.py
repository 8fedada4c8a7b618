"""Moodle XML, GIFT and Aiken banks as a teacher exports them: what comes in, what is counted out."""

from __future__ import annotations

from pathlib import Path

import pytest

from probllms_tui.core.errors import InputError
from probllms_tui.core.readers import detect_format, read_bank
from probllms_tui.core.readers.html_text import html_to_text

BANKS = Path(__file__).parent / "fixtures" / "banks"


def kinds(load) -> dict[str, int]:
    return dict(load.skipped_by_kind())


def test_moodle_xml_reads_single_answer_and_true_false_and_counts_the_rest():
    load = read_bank(BANKS / "course.xml")
    assert len(load.questions) == 5
    assert kinds(load) == {"multi-answer multichoice": 1, "essay question": 1, "shortanswer question": 1,
                           "matching question": 1, "malformed": 1}
    units, free_fall, refraction, lens, prime = load.questions
    assert units.stem == "Which is the SI unit of force?\nPick one & only one.\n\n[image: newton apple.png]"
    assert units.options == ("joule", "newton", "watt") and units.answer == "B"
    assert units.explanation == "1 N = 1 kg·m/s²"  # entities (&nbsp; &middot; &sup2;) decoded
    assert units.subject == "Physics" and units.source == "course.xml:11"
    assert free_fall.options == ("True", "False") and free_fall.answer == "A"
    assert free_fall.explanation == "Apollo 15 showed it on the Moon."
    # "//" in a Moodle category path is a slash inside one name, "/" separates levels.
    assert refraction.subject == "Physics/Optics / Waves"
    assert refraction.stem.endswith("\n- its speed\n- its frequency")
    assert refraction.option("A") == "only the speed" and refraction.explanation == ""
    assert lens.answer == "B" and prime.option(prime.answer) == "7"
    where = {s.line: s.reason for s in load.skipped}
    assert "no answer has a positive fraction" in where[150]
    assert "several right answers" in where[43]


def test_gift_reads_choice_and_true_false_and_counts_the_rest():
    load = read_bank(BANKS / "course.gift")
    assert kinds(load) == {"essay question": 1, "matching question": 1, "multi-answer multichoice": 1,
                           "numerical question": 1, "short answer question": 1, "description": 1}
    stems = [q.stem for q in load.questions]
    assert stems == ["Which molecule carries amino acids to the ribosome?", "Viruses are cells.",
                     "DNA is a double helix.", "RNA usually has thymine.",
                     "A cross Aa x Aa gives which share of aa?",
                     "Mendel worked with _____ in his garden {not a lab}."]
    trna, viruses, dna, rna, cross, mendel = load.questions
    assert trna.options == ("tRNA", "mRNA", "rRNA") and trna.answer == "A"
    assert trna.explanation == "tRNA = transfer RNA."  # #feedback per answer dropped, #### kept
    assert (viruses.answer, dna.answer, rna.answer) == ("B", "A", "B")
    assert viruses.explanation == "They need a host cell to replicate."
    assert cross.option(cross.answer) == "1/4"  # the %100% one; %50% is partial credit
    assert mendel.option(mendel.answer) == "peas"
    assert [q.subject for q in load.questions] == ["Biology"] * 2 + ["Biology/Genetics"] * 4
    assert [s.line for s in load.skipped] == [5, 8, 24, 31, 34, 59]


def test_aiken_reads_good_questions_and_names_each_bad_one():
    load = read_bank(BANKS / "course.aiken.txt")
    assert [q.option(q.answer) for q in load.questions] == ["heart", "artery", "oxygen"]
    assert load.questions[2].stem == "What does <b>hemoglobin</b> carry & bind?"  # Aiken text is literal
    assert [(s.line, s.reason.split(" (")[0]) for s in load.skipped] == [
        (7, "question needs at least 2 options, found 1"),
        (11, "option before any question text"),
        (22, "no 'ANSWER:' line after the options"),
        (31, "answer 'E' is out of range for 2 options"),
    ]


@pytest.mark.parametrize("name,text,expected", [
    ("a.txt", "::T:: Sky is blue {T}\n", "gift"),
    ("b.txt", "Q?\nA) x\nB) y\nANSWER: A\n", "aiken"),
    ("c.txt", "#separator:tab\n#html:false\nfront\tback\n", "anki-text"),
    ("d.gift", "anything", "gift"), ("e.xml", "<quiz/>", "moodle-xml"), ("f.apkg", "", "apkg"),
])
def test_format_detection(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert detect_format(path) == expected


@pytest.mark.parametrize("name,content,fragment,line", [
    ("cut.xml", '<?xml version="1.0"?>\n<quiz>\n  <question type="truefalse">\n    <questiontext>',
     "malformed XML (no element found)", 4),
    ("bomb.xml", '<?xml version="1.0"?>\n<!DOCTYPE quiz [\n<!ENTITY a "aaaaaaaaaa">\n'
     '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n<quiz>&b;</quiz>', "declares a DTD", 2),
    ("other.xml", "<?xml version='1.0'?>\n<html><body/></html>", "expected <quiz>", 2),
    ("open.gift", "::Q1:: fine {T}\n\n::Q2:: Which? {\n=a\n~b\n\n::Q3:: next {F}\n", "not closed", 3),
    ("two.gift", "::Q2:: Which? {=a ~b\n::Q3:: next {F}\n", "not closed", 1),
])
def test_malformed_files_are_one_line_naming_file_and_line(tmp_path, name, content, fragment, line):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_bank(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ") and fragment in message and "\n" not in message


def test_strict_mode_stops_at_the_first_malformed_question():
    with pytest.raises(InputError, match=r"course\.xml:150: no answer has a positive fraction"):
        read_bank(BANKS / "course.xml", strict=True)


def test_html_to_text_keeps_what_math_tables_and_code_mean():
    # Flattened, 2<sup>10</sup> read "210" and x<sub>n+1</sub> "xn+1": another question.
    assert html_to_text("<p>Compute 2<sup>10</sup>, e<sup>i&pi;</sup> and x<sub>n+1</sub> = x<sub>n</sub><sup>2</sup></p>") \
        == "Compute 2^10, e^(i\u03c0) and x_(n+1) = x_n^2"
    table = "<table><tr><th>x</th><td>0</td><td>1</td></tr><tr><th>P(X=x)</th><td>0.2</td><td>0.8</td></tr></table>"
    assert html_to_text(table) == "x | 0 | 1\nP(X=x) | 0.2 | 0.8"
    assert html_to_text("<pre>def f(x):\n    return x</pre>") == "def f(x):\n    return x"
    assert html_to_text("le 2<sup>e</sup> ordre, the 1<sup>st</sup>, but x<sup>e</sup>") == "le 2e ordre, the 1st, but x^e"


def test_html_to_text_notes_files_and_keeps_lists():
    html = ('<p><a href="@@PLUGINFILE@@/bonjour.mp3">Listen:</a><br>What language?</p>'
            '<ol><li>one</li><li>two &lt;3</li></ol><script>x()</script>')
    assert html_to_text(html) == "Listen: [file: bonjour.mp3]\nWhat language?\n\n1. one\n2. two <3"


@pytest.mark.parametrize("gift,stem", [
    ("The answer is {=4 ~5}.", "The answer is _____."),
    ("Mendel used {=peas ~mice} in his garden", "Mendel used _____ in his garden"),
    ("Moodle's own fixture ends a true/false like this.{T}\";", "Moodle's own fixture ends a true/false like this."),
])
def test_text_after_the_answer_block(tmp_path, gift, stem):
    path = tmp_path / "q.gift"
    path.write_text(gift + "\n", encoding="utf-8")
    assert read_bank(path).questions[0].stem == stem


def test_moodle_auto_format_keeps_typed_line_breaks(tmp_path):
    path = tmp_path / "q.xml"
    path.write_text('<quiz><question type="truefalse"><questiontext format="moodle_auto_format">'
                    "<text>line one\nline &lt;b&gt;two&lt;/b&gt;</text></questiontext>"
                    '<answer fraction="100"><text>false</text></answer><answer fraction="0"><text>true</text>'
                    "</answer></question></quiz>", encoding="utf-8")
    q = read_bank(path).questions[0]
    assert q.stem == "line one\nline two" and q.answer == "B"


def test_moodle_multichoice_without_single_is_single_answer_as_in_moodle(tmp_path):
    path = tmp_path / "q.xml"
    path.write_text('<quiz><question type="multichoice"><questiontext format="html"><text>2+2?</text>'
                    '</questiontext><answer fraction="0"><text>3</text></answer>'
                    '<answer fraction="100"><text>4</text></answer></question></quiz>', encoding="utf-8")
    q = read_bank(path).questions[0]
    assert q.options == ("3", "4") and q.answer == "B"
