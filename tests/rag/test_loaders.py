from __future__ import annotations

import os

import pytest
from fixtures import LATEX, MARKDOWN, PDF_PAGES, make_pdf

from probllms_tui.rag.loaders import (LoadError, decode_text, discover, load_latex, load_markdown,
                                      load_pdf, load_plain, read_bytes)


def test_markdown_keeps_heading_path_and_source_lines():
    segs = load_markdown(MARKDOWN)
    lines = MARKDOWN.split("\n")
    bayes = next(s for s in segs if s.text.startswith("Bayes' rule relates"))
    assert bayes.heading == "Probability > Bayes' rule"
    assert lines[bayes.start_line - 1].startswith("Bayes' rule relates")
    assert lines[bayes.end_line - 1].startswith("It is used")
    fence = next(s for s in segs if "posterior =" in s.text)
    assert fence.heading == "Probability > Bayes' rule"  # the '#' inside the fence is no heading
    expectation = next(s for s in segs if "linear" in s.text)
    assert expectation.heading == "Probability > Expectation"
    assert all(not s.text.startswith("#") for s in segs if "```" not in s.text)


def test_plain_text_paragraphs_with_lines():
    segs = load_plain("first para\nstill first\n\n\nsecond para\n")
    assert [(s.start_line, s.end_line) for s in segs] == [(1, 2), (5, 5)]


def test_latex_becomes_readable_text_under_section_headings():
    segs = load_latex(LATEX)
    joined = " ".join(s.text for s in segs)
    assert "\\emph" not in joined and "\\section" not in joined and "newcommand" not in joined
    tree = next(s for s in segs if "spanning tree" in s.text)
    assert tree.heading == "Graphs"
    assert LATEX.split("\n")[tree.end_line - 1].startswith("A \\emph{spanning tree}")
    assert next(s for s in segs if "Dijkstra" in s.text).heading == "Graphs > Search"


def test_pdf_page_by_page():
    segs = load_pdf(make_pdf(PDF_PAGES))
    assert [s.page for s in segs] == [1, 2]
    assert "Gradient descent" in segs[0].text and "Overfitting" in segs[1].text


@pytest.mark.parametrize("data", [b"%PDF-1.4\n garbage \x00\x01", b"not a pdf at all", make_pdf(PDF_PAGES)[:150]])
def test_corrupt_pdf_is_a_load_error(data):
    with pytest.raises(LoadError, match="PDF"):
        load_pdf(data)


def test_binary_and_non_utf8_text_refused():
    with pytest.raises(LoadError, match="binary"):
        decode_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR")
    with pytest.raises(LoadError, match="UTF-8"):
        decode_text(b"caf\xe9 au lait")


def test_large_and_unreadable_files(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(50 * 2**20)  # sparse: 50 MB on paper, nothing written
    with pytest.raises(LoadError, match="too large"):
        read_bytes(big)
    locked = tmp_path / "locked.md"
    locked.write_text("secret")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(LoadError, match="permission"):
            read_bytes(locked)
    finally:
        locked.chmod(0o644)


def test_discover_skips_hidden_and_unknown(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.md").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.MD").write_text("a")
    (tmp_path / "b.docx").write_text("b")
    (tmp_path / ".hidden.md").write_text("h")
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)] == ["sub/a.MD"]


def test_discover_follows_symlinked_folders_and_yields_each_real_file_once(tmp_path):
    notes, elsewhere = tmp_path / "notes", tmp_path / "last_year"
    (notes / "db").mkdir(parents=True)
    elsewhere.mkdir()
    (notes / "db" / "normal_forms.md").write_text("BCNF")
    (elsewhere / "dijkstra.md").write_text("paths")
    os.symlink(elsewhere, notes / "algo_link")                      # a linked folder: followed
    os.symlink(notes / "db" / "normal_forms.md", notes / "nf.md")   # a second path to a file: once
    os.symlink(notes, notes / "db" / "loop")                        # a loop: ends
    assert [p.relative_to(notes).as_posix() for p in discover(notes)] == ["algo_link/dijkstra.md",
                                                                          "db/normal_forms.md"]


def test_markdown_front_matter_is_not_a_heading_and_lines_stay_right():
    text = "---\ntitle: Week 3\nauthor: me\n---\n\nIntro text.\n\n### Detail\nText."
    segs = load_markdown(text)
    assert [(s.text, s.heading, s.start_line) for s in segs] == [("Intro text.", "", 6), ("Text.", "Detail", 9)]
    # A thematic break later in a file is not front matter.
    assert load_markdown("Para one\n\n---\n\nMore")[1].text == "More"
    # A note that opens with a rule is not front matter: its text stays.
    assert [s.text for s in load_markdown("---\nA heap is a tree.\n\n---\n\nMore")][:1] == ["A heap is a tree."]


def test_latex_titles_with_macros_and_sections_inside_a_paragraph():
    text = ("\\begin{document}\n\\section{Entropy of an \\emph{ideal} gas}\nThe entropy grows.\n"
            "\\subsection*{Clausius inequality}\nCyclic integral of dQ/T is at most zero.\n\\end{document}\n")
    segs = load_latex(text)
    assert [(s.text, s.heading, s.start_line, s.end_line) for s in segs] == [
        ("The entropy grows.", "Entropy of an ideal gas", 3, 3),
        ("Cyclic integral of dQ/T is at most zero.", "Entropy of an ideal gas > Clausius inequality", 5, 5)]
