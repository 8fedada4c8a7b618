"""Bank readers: seed JSONL, structured JSONL, CSV; bad rows reported with their line numbers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers import (
    mcq_from_record,
    mcq_to_seed_record,
    mcq_to_structured_record,
    read_bank,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_seed_jsonl_letters_numbers_five_options_and_latex():
    load = read_bank(FIXTURES / "seed.jsonl", strict=True)
    assert load.skipped == []
    q = load.questions
    assert [x.answer for x in q] == ["B", "C", "E", "B", "A"]
    assert q[0].stem == "Which force keeps the Moon in orbit?"
    assert q[0].subject == "physics"
    # numeric labels 1..4 become letters; the answer "3" is the third option
    assert q[1].options == ("their color", "their shape", "how they formed", "their weight")
    assert q[1].option(q[1].answer) == "how they formed"
    assert len(q[2].options) == 5 and q[2].option("E") == "whale"
    assert q[3].stem == "What is $\\int_0^1 x^2\\,dx$?"
    assert q[3].options == ("$\\frac{1}{2}$", "$\\frac{1}{3}$", "$1$")
    assert q[4].option(q[4].answer) == "joule"
    assert q[0].source == "seed.jsonl:1" and q[4].source == "seed.jsonl:5"


def test_structured_jsonl_letter_int_and_lowercase_answers():
    q = read_bank(FIXTURES / "structured.jsonl", strict=True).questions
    assert [x.answer for x in q] == ["B", "B", "A"]
    assert q[0].options == ("Mars", "Jupiter", "Venus") and q[0].subject == "astronomy"
    assert q[1].option(q[1].answer) == "4"  # int answers are 1-based
    assert q[2].stem == "Dérivée de $\\sin(θ)$ ?" and q[2].explanation == "d/dθ sin = cos"


def test_csv_with_choices_column():
    q = read_bank(FIXTURES / "choices.csv", strict=True).questions
    assert [x.answer for x in q] == ["B", "B", "A"]
    assert q[0].options == ("oxygen", "carbon dioxide", "nitrogen") and q[0].subject == "biology"
    assert q[1].option("B") == "Pacific"
    assert q[2].stem == "Multi-line\nstem, with a comma?"


def test_csv_with_option_columns_skips_bad_rows_with_line_numbers():
    load = read_bank(FIXTURES / "columns.csv")
    assert [x.options for x in load.questions] == [("4", "6", "7", "9"), ("true", "false")]
    assert [x.answer for x in load.questions] == ["C", "A"]
    assert [n for n, _ in load.skipped] == [4, 5]
    assert "no options" in load.skipped[0][1]
    assert "out of range" in load.skipped[1][1]


def test_csv_strict_names_file_and_line():
    with pytest.raises(InputError) as info:
        read_bank(FIXTURES / "columns.csv", strict=True)
    assert str(info.value).startswith(f"{FIXTURES / 'columns.csv'}:4: ")


def test_csv_multiline_record_reports_its_first_line(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text('question,choices,answer\n"ok?","a || b",A\n"spans\ntwo lines","a || b",Z\n',
                    encoding="utf-8")
    load = read_bank(path)
    assert [n for n, _ in load.skipped] == [3]


def test_a_broken_csv_is_one_input_error_naming_the_line(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text('question,A,B,answer\n"fine?",a,b,A\n"' + "x" * 200_000 + '",a,b,A\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_bank(path)
    assert str(info.value).startswith(f"{path}:3: malformed CSV")


def test_malformed_jsonl_skip_mode_reports_each_line():
    load = read_bank(FIXTURES / "malformed.jsonl")
    assert len(load.questions) == 2
    assert [n for n, _ in load.skipped] == [2, 3, 5, 6]
    reasons = dict(load.skipped)
    assert "invalid JSON" in reasons[2]
    assert "no options" in reasons[3]
    assert "out of range" in reasons[5]
    assert "JSON object" in reasons[6]
    summary = load.summary("malformed.jsonl")
    assert "loaded 2 questions" in summary and "(2, 3, 5, 6)" in summary


def test_malformed_jsonl_strict_mode_stops_at_first_bad_line():
    with pytest.raises(InputError) as info:
        read_bank(FIXTURES / "malformed.jsonl", strict=True)
    assert str(info.value).startswith(f"{FIXTURES / 'malformed.jsonl'}:2: invalid JSON")


def test_bank_with_no_valid_rows_is_an_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:1: no valid questions"):
        read_bank(path)


@pytest.mark.parametrize("name,content,fragment", [
    ("missing.jsonl", None, "file not found"),
    ("bank.doc", "hello", "unknown bank format"),
    ("bank.txt", "hello", "cannot tell the format"),
    ("binary.jsonl", b"\xff\xfe\x00\x01garbage", "not a UTF-8 text file"),
    ("nocols.csv", "a,b\n1,2\n", "needs 'question' and 'answer' columns"),
])
def test_unreadable_banks_are_one_line_errors(tmp_path, name, content, fragment):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_bank(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_folder_is_not_a_bank(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        read_bank(tmp_path)


def test_records_round_trip_through_both_formats():
    q = MCQ("What is $e^{i\\pi}$?", ("$-1$", "$1$", "$i$"), "A", subject="math", explanation="Euler")
    seed = mcq_to_seed_record(q)
    assert seed["question"].startswith("Question: What is $e^{i\\pi}$?\n\nOptions:\nA. $-1$")
    assert mcq_from_record(seed) == MCQ(q.stem, q.options, "A", subject="math")
    structured = json.loads(json.dumps(mcq_to_structured_record(q)))
    assert mcq_from_record(structured) == q


def test_record_errors_are_specific():
    with pytest.raises(InputError, match="missing or empty 'question'"):
        mcq_from_record({"choices": ["a", "b"], "answer": "A"})
    with pytest.raises(InputError, match="must be a list"):
        mcq_from_record({"question": "q", "choices": "a, b", "answer": "A"})
    with pytest.raises(InputError, match="not a letter or option number"):
        mcq_from_record({"question": "q", "choices": ["a", "b"], "answer": True})
    with pytest.raises(InputError, match="at least 2 options"):
        mcq_from_record({"question": "q", "choices": ["a"], "answer": 1})


def test_every_shared_mcqa_file_reads(shared_data, tmp_path):
    """50 real rows of every seed-format file nobody here wrote load without a skipped line."""
    files = sorted(shared_data.glob("*_mcqa.jsonl"))
    assert files, f"no *_mcqa.jsonl in {shared_data}"
    for src in files:
        head = tmp_path / src.name
        with src.open(encoding="utf-8") as fh, head.open("w", encoding="utf-8") as out:
            for _, line in zip(range(50), fh):
                out.write(line)
        load = read_bank(head, strict=True)
        assert len(load.questions) == 50, src.name
        for q in load.questions:
            assert q.answer in q.letters and 3 <= len(q.options) <= 5


def test_questions_that_share_an_id_are_told_apart_or_left_out_as_duplicates(tmp_path):
    """Moodle names every pasted image image.png: two picture questions then read the same, and
    one id made the app show one of them and merge their histories."""
    def question(right: int) -> str:
        answers = "".join(f'<answer fraction="{100 if i == right else 0}"><text>{t}</text></answer>'
                          for i, t in enumerate(("circle", "square", "triangle")))
        return ('<question type="multichoice"><name><text>q</text></name><questiontext format="html"><text>'
                '<![CDATA[<p>Which shape? <img src="@@PLUGINFILE@@/image.png"></p>]]></text></questiontext>'
                f"<single>true</single>{answers}</question>\n")
    path = tmp_path / "shapes.xml"
    path.write_text("<quiz>\n" + question(0) + question(1) + question(1) + "</quiz>\n", encoding="utf-8")
    load = read_bank(path)
    assert [q.answer for q in load.questions] == ["A", "B"]
    assert len({q.id for q in load.questions}) == 2
    assert load.questions[0].id == load.questions[0].content_id()  # the first keeps its id: history stays
    assert [(s.line, s.kind) for s in load.skipped] == [(4, "duplicate question")]


def test_csv_with_a_gap_in_its_options_is_refused_and_headers_take_any_case(tmp_path):
    """Dropping an empty middle cell moved "3" from C to B, and the key C onto "4"."""
    path = tmp_path / "bank.csv"
    path.write_text("Question,A,B,C,D,Answer\nGap,1,,3,4,C\nThree,x,y,z,,B\n", encoding="utf-8")
    load = read_bank(path)
    assert [(q.stem, q.options, q.answer) for q in load.questions] == [("Three", ("x", "y", "z"), "B")]
    assert [(s.line, s.reason) for s in load.skipped] == [(2, "option B is empty but a later option is not")]


def test_a_txt_aiken_bank_with_lowercase_answer_lines_and_moodle_top_categories(tmp_path):
    aiken = tmp_path / "quiz.txt"
    aiken.write_text("Which is prime?\nA) 4\nB) 7\nAnswer: B\n\nWhich is even?\nA) 3\nB) 8\nAnswer: B\n", encoding="utf-8")
    assert [q.answer for q in read_bank(aiken).questions] == ["B", "B"]
    from probllms_tui.core.readers.moodle_xml import topic_from_category

    assert topic_from_category("$course$/Top/Linear Algebra") == "Linear Algebra"
    assert topic_from_category("$course$/top/Optics") == "Optics"


def test_rows_that_share_a_written_id_are_kept_apart_not_dropped(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text("question,A,B,answer,id\nWhat is 2+2?,3,4,B,q1\nWhat is 3+3?,5,6,B,q1\nWhat is 2+2?,3,4,B,q1\n",
                    encoding="utf-8")
    load = read_bank(path)
    assert [q.stem for q in load.questions] == ["What is 2+2?", "What is 3+3?"]
    assert load.questions[0].id == "q1" and load.questions[1].id.startswith("q1-")
    assert [(s.line, s.kind) for s in load.skipped] == [(4, "duplicate question")]
