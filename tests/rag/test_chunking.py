from __future__ import annotations

import re

from probllms_tui.rag.chunking import TARGET_TOKENS, chunk_segments
from probllms_tui.rag.loaders import Segment, load_markdown


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def test_nothing_is_truncated_or_lost(embedder):
    sentences = [f"Sentence number {i} talks about eigenvalue {i * 7} of matrix M{i}." for i in range(120)]
    long_paragraph = " ".join(sentences)
    run_on = " ".join(f"token{i}" for i in range(900))  # no sentence end at all
    text = f"# Notes\n\n{long_paragraph}\n\n{run_on}\n\nShort closing line.\n"
    segs = load_markdown(text)
    chunks = chunk_segments(segs, embedder)
    assert len(chunks) > 4
    for c in chunks:
        n = embedder.count_tokens(c.embed_text)
        assert n <= embedder.max_tokens, (n, c.text[:80])
        assert n <= TARGET_TOKENS
        assert c.heading == "Notes"
    assert _words(" ".join(c.text for c in chunks)) == _words("\n".join(s.text for s in segs))


def test_line_ranges_follow_the_source(embedder):
    lines = [f"Line {i} of a long paragraph about convex functions and their minima." for i in range(1, 61)]
    chunks = chunk_segments([Segment("\n".join(lines), "", 10, 69)], embedder)
    assert len(chunks) >= 2
    assert chunks[0].start_line == 10 and chunks[-1].end_line == 69
    for c in chunks:
        first = int(_words(c.text)[1])
        last = int(_words(c.text.split("\n")[-1])[1])
        assert (c.start_line, c.end_line) == (first + 9, last + 9)


def test_packing_never_crosses_pages_or_headings(embedder):
    segs = [Segment("page one text", page=1), Segment("page two text", page=2),
            Segment("under A", heading="A", start_line=1, end_line=1),
            Segment("under B", heading="B", start_line=3, end_line=3)]
    chunks = chunk_segments(segs, embedder)
    assert [(c.page, c.heading) for c in chunks] == [(1, ""), (2, ""), (None, "A"), (None, "B")]
