"""`probllms-train data mcqa` / `check`: the recipe's rules, re-derived from the source rows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path


from probllms_tui.core.errors import InputError
from probllms_tui.core.readers import read_bank
from probllms_train.data.mcqa.distractors import last_boxed
from probllms_train.data.mcqa.sources import MMLU_SCIENCE


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _build(cli, tmp_path, source, fixture, *extra):
    out = tmp_path / f"{source}.jsonl"
    res = cli("mcqa", "--source", source, "--from", fixture, "--split", "test", "--out", out, *extra)
    assert res.exit_code == 0, res.output
    return out, json.loads(out.with_name(out.stem + ".report.json").read_text())


def test_gsm8k_distractors_follow_the_rule(cli, tmp_path, fixtures):
    out, report = _build(cli, tmp_path, "gsm8k", fixtures / "gsm8k.jsonl")
    source = {r["question"]: r["answer"] for r in _rows(fixtures / "gsm8k.jsonl")}
    qs = read_bank(out, strict=True).questions
    assert len(qs) == 5 and report["written"] == 5
    assert report["drops"]["final answer is not an integer"]["count"] == 1  # 3.5 is counted, not lost
    assert report["rows_read"] == report["written"] + report["dropped"]
    for q in qs:
        final = int(source[q.stem].rsplit("####", 1)[1].replace(",", ""))
        assert q.option(q.answer) == str(final)
        values = [int(o) for o in q.options]
        assert len(set(values)) == 4
        deltas = sorted(v - final for v in values if v != final)
        assert len(deltas) == 3 and all(d != 0 and -10 <= d <= 10 for d in deltas)


SIGNED_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def _one_number_changed(answer: str, distractor: str) -> Decimal | None:
    """The change of the single number that differs (text around numbers identical), else None."""
    if SIGNED_NUMBER.split(answer) != SIGNED_NUMBER.split(distractor):
        return None
    a = [Decimal(x) for x in SIGNED_NUMBER.findall(answer)]
    b = [Decimal(x) for x in SIGNED_NUMBER.findall(distractor)]
    diffs = [y - x for x, y in zip(a, b) if x != y]
    if len(a) != len(b) or len(diffs) != 1:
        return None
    return diffs[0]


def test_math_distractors_change_one_number_by_at_most_5(cli, tmp_path, fixtures):
    out, report = _build(cli, tmp_path, "math", fixtures / "math.jsonl")
    source = {r["problem"]: r["solution"] for r in _rows(fixtures / "math.jsonl")}
    qs = read_bank(out, strict=True).questions
    assert report["drops"]["answer has no number to perturb"]["count"] == 1  # \text{(C)}
    assert report["drops"]["answer has no number to perturb"]["examples"][0].endswith("math.jsonl:3")
    assert len(qs) == 7
    for q in qs:
        answer = last_boxed(source[q.stem])
        assert q.option(q.answer) == answer
        distractors = [o for o in q.options if o != answer]
        assert len(set(q.options)) == 4 and len(distractors) == 3
        for d in distractors:
            change = _one_number_changed(answer, d)
            assert change is not None, (answer, d)
            assert change == change.to_integral_value() and 1 <= abs(change) <= 5, (answer, d)
    by_stem = {q.stem: q for q in qs}
    sqrt3 = by_stem["Find $\\sin 60^\\circ$."]
    assert sqrt3.option(sqrt3.answer) == "\\dfrac{\\sqrt{3}}{2}"  # the last \boxed, nested braces
    assert all(o.startswith("\\dfrac{\\sqrt{") for o in sqrt3.options)


def test_last_boxed_matches_nested_braces():
    assert last_boxed(r"so $\boxed{\frac{\sqrt{2}}{\left(3\right)}}$ ok") == r"\frac{\sqrt{2}}{\left(3\right)}"
    assert last_boxed(r"\boxed{1} then \boxed{\{1,2\}}") == r"\{1,2\}"
    assert last_boxed(r"\boxed 5$") == "5"


def test_arc_both_layouts_and_numeric_labels(cli, tmp_path, fixtures):
    out, _ = _build(cli, tmp_path, "arc-easy", fixtures / "arc.jsonl")
    qs = read_bank(out, strict=True).questions
    got = {q.stem: (q.answer, q.option(q.answer), len(q.options)) for q in qs}
    assert got["Which is a mammal?"] == ("C", "whale", 3)
    assert got["What is the boiling point of water at sea level?"] == ("C", "100 C", 5)
    assert got["Which planet is closest to the Sun?"] == ("B", "Mercury", 4)


def test_mmlu_keeps_the_23_science_subjects_and_counts_the_rest(cli, tmp_path, fixtures):
    assert len(MMLU_SCIENCE) == 23 and len(set(MMLU_SCIENCE)) == 23
    out, report = _build(cli, tmp_path, "mmlu-science", fixtures / "mmlu.jsonl", "--format", "structured")
    rows = _rows(out)
    assert sorted(r["subject"] for r in rows) == ["abstract_algebra", "anatomy", "machine_learning"]
    assert {r["subject"]: r["answer"] for r in rows}["anatomy"] == "B"  # MMLU answers are 0-based
    assert report["drops"]["not one of the 23 science subjects"]["count"] == 2


def test_same_seed_same_bytes_other_seed_other_options(cli, tmp_path, fixtures):
    a, _ = _build(cli, tmp_path / "a", "gsm8k", fixtures / "gsm8k.jsonl", "--seed", "3")
    b, _ = _build(cli, tmp_path / "b", "gsm8k", fixtures / "gsm8k.jsonl", "--seed", "3")
    c, _ = _build(cli, tmp_path / "c", "gsm8k", fixtures / "gsm8k.jsonl", "--seed", "4")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_limit_is_counted(cli, tmp_path, fixtures):
    out, report = _build(cli, tmp_path, "arc-easy", fixtures / "arc.jsonl", "--limit", "2")
    assert len(_rows(out)) == 2 and report["drops"]["beyond --limit"]["count"] == 2


def test_bad_row_stops_with_file_line_or_is_skipped_and_counted(cli, tmp_path, fixtures):
    bad = tmp_path / "gsm8k_bad.jsonl"
    lines = (fixtures / "gsm8k.jsonl").read_text().splitlines()
    lines.insert(2, '{"question": "no answer field"}')
    lines.insert(4, "{not json")
    bad.write_text("\n".join(lines) + "\n")
    res = cli("mcqa", "--source", "gsm8k", "--from", bad, "--split", "train", "--out", tmp_path / "o.jsonl")
    assert res.exit_code != 0 and f"{bad}:3" in str(res.exception) and "'answer'" in str(res.exception)
    out, report = _build(cli, tmp_path, "gsm8k", bad, "--skip-bad")
    assert report["drops"]["malformed: missing or empty 'answer'"]["examples"] == [f"{bad}:3"]
    assert report["drops"]["malformed: invalid JSON (Expecting property name enclosed in double quotes)"][
        "examples"] == [f"{bad}:5"]
    assert report["rows_read"] == 8 == report["written"] + report["dropped"]


def test_cli_error_is_one_line_and_exit_2(tmp_path, fixtures):
    bad = tmp_path / "arc.jsonl"
    bad.write_text('{"question": "Q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "Z"}\n')
    proc = subprocess.run([sys.executable, "-m", "probllms_train.cli", "data", "mcqa", "--source", "arc-easy",
                           "--from", str(bad), "--split", "test", "--out", str(tmp_path / "o.jsonl")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {bad}:1: answerKey 'Z' is not one of the labels ['A', 'B']"]


def _degenerate(path: Path, n: int = 40) -> Path:
    with path.open("w") as fh:
        for i in range(n):
            options = ["\\frac{1}{100}", f"{i}", f"{i + 1}", f"{i + 2}"]
            rotate = i % 4  # letters balanced: only the answer text is degenerate
            options = options[rotate:] + options[:rotate]
            fh.write(json.dumps({"question": f"Problem {i}?", "choices": options,
                                 "answer": "ABCD"[options.index("\\frac{1}{100}")]}) + "\n")
    return path


def test_check_flags_a_set_with_one_answer_text(cli, tmp_path):
    res = cli("check", _degenerate(tmp_path / "deg.jsonl"))
    assert res.exit_code == 1
    assert "answer-text" in res.output and "40/40" in res.output


def test_check_flags_letter_imbalance_and_passes_a_fair_set(cli, tmp_path):
    fair = tmp_path / "fair.jsonl"
    skew = tmp_path / "skew.jsonl"
    with fair.open("w") as f1, skew.open("w") as f2:
        for i in range(80):
            opts = [f"{i}a", f"{i}b", f"{i}c", f"{i}d"]
            f1.write(json.dumps({"question": f"Q{i}?", "choices": opts, "answer": "ABCD"[i % 4]}) + "\n")
            f2.write(json.dumps({"question": f"Q{i}?", "choices": opts, "answer": "A" if i % 5 else "B"}) + "\n")
    assert cli("check", fair).exit_code == 0
    res = cli("check", skew)
    assert res.exit_code == 1 and "letter-imbalance" in res.output


def test_check_reports_repeated_rows_as_repeats_and_benchmarks_keep_them(cli, tmp_path):
    """The app shows a repeated question once; a data set keeps every row, so `data check`
    still sees the repeats (they were once counted as malformed rows)."""
    from probllms_tui.core.readers import read_bank

    path = tmp_path / "rep.jsonl"
    with path.open("w") as fh:
        for i in list(range(40)) + [3, 7]:
            opts = [f"{i}a", f"{i}b", f"{i}c", f"{i}d"]
            fh.write(json.dumps({"question": f"Q{i}?", "choices": opts, "answer": "ABCD"[i % 4]}) + "\n")
    res = cli("check", path)
    assert "duplicate-questions" in res.output and "malformed" not in res.output
    assert len(read_bank(path, keep_duplicates=True).questions) == 42 and len(read_bank(path).questions) == 40


def test_mcqa_build_refuses_a_degenerate_result(cli, tmp_path):
    rows = tmp_path / "mmlu_same.jsonl"
    with rows.open("w") as fh:
        for i in range(30):
            fh.write(json.dumps({"question": f"Q{i}?", "choices": ["same", f"x{i}", f"y{i}", f"z{i}"],
                                 "answer": 0, "subject": "virology"}) + "\n")
    out = tmp_path / "o.jsonl"
    res = cli("mcqa", "--source", "mmlu-science", "--from", rows, "--split", "test", "--out", out)
    assert res.exit_code == 1 and out.exists()  # file kept, run fails loudly
    assert json.loads(out.with_name("o.report.json").read_text())["check"]["degenerate"] is True


def test_check_notices_the_published_math_set(cli, shared_data):
    res = cli("check", shared_data / "MATH-test_mcqa.jsonl")
    assert res.exit_code == 1 and "5000/5000" in res.output and "\\\\frac{1}{100}" in res.output
    assert cli("check", shared_data / "gsm8k_mcqa.jsonl").exit_code == 0


def test_exclude_drops_questions_of_an_eval_set(cli, tmp_path, fixtures):
    eval_set, _ = _build(cli, tmp_path / "eval", "arc-easy", fixtures / "arc.jsonl", "--limit", "1")
    out, report = _build(cli, tmp_path, "arc-easy", fixtures / "arc.jsonl", "--exclude", eval_set)
    stems = {q.stem for q in read_bank(out).questions}
    assert "Which gas do plants take in for photosynthesis?" not in stems and len(stems) == 3
    assert report["drops"]["question is in an --exclude set"]["examples"][0].endswith("arc.jsonl:1")


def test_parquet_and_json_list_inputs_read_like_jsonl(cli, tmp_path, fixtures):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows(fixtures / "mmlu.jsonl")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "mmlu.parquet")
    (tmp_path / "mmlu.json").write_text(json.dumps(rows, indent=1))
    a, ra = _build(cli, tmp_path / "a", "mmlu-science", fixtures / "mmlu.jsonl")
    b, rb = _build(cli, tmp_path / "b", "mmlu-science", tmp_path / "mmlu.parquet")
    c, _ = _build(cli, tmp_path / "c", "mmlu-science", tmp_path / "mmlu.json")
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    assert rb["drops"]["not one of the 23 science subjects"]["examples"][0].endswith("mmlu.parquet#row2")


def test_rules_hold_over_many_generated_rows(cli, tmp_path):
    """200 GSM8K rows with random answers and a spread of MATH answer shapes, re-derived."""
    import random

    rng = random.Random(7)
    gsm = tmp_path / "gsm.jsonl"
    finals = {}
    with gsm.open("w") as fh:
        for i in range(200):
            final = rng.choice([0, 1, 2, rng.randint(3, 99), rng.randint(100, 100000)])
            finals[f"Problem {i}: how many?"] = final
            fh.write(json.dumps({"question": f"Problem {i}: how many?", "answer": f"work\n#### {final:,}"}) + "\n")
    out, report = _build(cli, tmp_path / "g", "gsm8k", gsm)
    for q in read_bank(out, strict=True).questions:
        final = finals[q.stem]
        values = [int(o) for o in q.options]
        assert q.option(q.answer) == str(final) and len(set(values)) == 4
        assert all(1 <= abs(v - final) <= 10 for v in values if v != final)
    letters = report["check"]["stats"]["answer_letters"]
    assert min(letters.values()) > 25  # shuffled: every letter is the answer about 50 times

    answers = [r"\frac{7}{12}", r"-\frac{3}{2}", r"3\sqrt{2}", r"(2, -5)", r"x^2 - 4x + 1", r"\pi/4", r"12.50",
               r"\$1,\!200", r"\begin{pmatrix} 1 \\ -2 \end{pmatrix}", r"10^{-3}", r"[0, 1)", r"2^{10}"]
    math = tmp_path / "math.jsonl"
    with math.open("w") as fh:
        for i, a in enumerate(answers * 5):
            fh.write(json.dumps({"problem": f"Problem {i}", "solution": f"So $\\boxed{{{a}}}$.", "type": "Algebra"}) + "\n")
    out, report = _build(cli, tmp_path / "m", "math", math)
    qs = read_bank(out, strict=True).questions
    assert len(qs) == 60 and report["dropped"] == 0
    for q in qs:
        answer = answers[int(q.stem.split()[1]) % len(answers)]
        assert q.option(q.answer) == answer
        for d in (o for o in q.options if o != answer):
            change = _one_number_changed(answer, d)
            assert change is not None and 1 <= abs(change) <= 5, (answer, d)


def test_an_output_that_would_overwrite_an_input_or_is_the_wrong_kind_is_refused_first(cli, tmp_path):
    """`--from arc.jsonl --out arc.jsonl` replaced the student's raw rows; a folder given as
    --out failed with a traceback after the whole build."""
    raw = tmp_path / "arc.jsonl"
    raw.write_text(json.dumps({"question": "Q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]},
                               "answerKey": "A"}) + "\n")
    before = raw.read_bytes()
    res = cli("mcqa", "--source", "arc-easy", "--from", raw, "--out", raw)
    assert isinstance(res.exception, InputError) and "would overwrite the input" in str(res.exception)
    assert raw.read_bytes() == before
    (tmp_path / "adir").mkdir()
    res = cli("mcqa", "--source", "arc-easy", "--from", raw, "--out", tmp_path / "adir")
    assert isinstance(res.exception, InputError) and "a folder is there" in str(res.exception)
    pairs = tmp_path / "out" / "train.jsonl"
    pairs.parent.mkdir()
    pairs.write_text("{}\n")
    res = cli("preference", "--out", pairs.parent, "--student", pairs)
    assert isinstance(res.exception, InputError) and "would overwrite the input" in str(res.exception)
    assert pairs.read_text() == "{}\n"
