"""Size segments into chunks the embedder reads whole.

all-MiniLM-L6-v2 silently drops everything after 256 word pieces, so chunks are measured
with the embedder's own tokenizer: paragraphs are packed up to a target, a longer paragraph
is cut at sentence ends, and a sentence longer than the target at word-piece boundaries.
The heading path is embedded with the text (it says what the paragraph is about) and counts
toward the limit. Packing never crosses a heading or a PDF page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from probllms_tui.rag.loaders import Segment

TARGET_TOKENS = 160
# Bump when chunk boundaries change: stored chunks of another version would never match again.
CHUNKER_VERSION = f"para-sent-v1-t{TARGET_TOKENS}"
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str
    start_line: int | None
    end_line: int | None
    page: int | None
    heading_embedded: bool = True  # False when the heading alone would fill half the window

    @property
    def embed_text(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading and self.heading_embedded else self.text

    @property
    def location(self) -> str:
        if self.page is not None:
            return f"p{self.page}"
        return f"L{self.start_line}-{self.end_line}"


@dataclass
class _Piece:
    text: str
    start_line: int | None
    end_line: int | None
    tokens: int


def _line_at(seg: Segment, offset: int) -> int | None:
    return None if seg.start_line is None else seg.start_line + seg.text.count("\n", 0, offset)


def _word_windows(spans: list[tuple[int, int, int]], budget: int) -> list[tuple[int, int]]:
    """Character windows of at most ``budget`` word pieces, cut between words where possible."""
    windows, i = [], 0
    while i < len(spans):
        j = min(i + budget, len(spans))
        if j < len(spans):
            cut = j
            while cut > i + 1 and spans[cut][2] == spans[cut - 1][2]:
                cut -= 1  # step back to the first piece of the word that straddles the limit
            j = cut if cut > i + 1 else j  # one word longer than the window: cut inside it
        windows.append((spans[i][0], spans[j - 1][1]))
        i = j
    return windows


def _pieces(seg: Segment, embedder, budget: int) -> list[_Piece]:
    """The segment cut into pieces of at most ``budget`` tokens, each with its lines."""
    whole = embedder.count_tokens(seg.text)
    if whole <= budget:
        return [_Piece(seg.text, seg.start_line, seg.end_line, whole)]
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(seg.text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(seg.text)))
    spans = [(a, b) for a, b in spans if seg.text[a:b].strip()]
    counts = embedder.count_tokens_batch([seg.text[a:b] for a, b in spans])
    out: list[_Piece] = []
    for (a, b), n in zip(spans, counts):
        if n <= budget:
            out.append(_Piece(seg.text[a:b], _line_at(seg, a), _line_at(seg, b), n))
            continue
        for i, j in _word_windows(embedder.token_spans(seg.text[a:b]), budget):
            wa, wb = a + i, a + j
            n = embedder.count_tokens(seg.text[wa:wb])
            out.append(_Piece(seg.text[wa:wb], _line_at(seg, wa), _line_at(seg, wb), n))
    return out


def chunk_segments(segments: list[Segment], embedder, target_tokens: int = TARGET_TOKENS) -> list[Chunk]:
    chunks: list[Chunk] = []
    limit = min(target_tokens, embedder.max_tokens)
    heading_tokens: dict[str, int] = {}
    group: list[_Piece] = []
    group_key: tuple | None = None
    used = 0

    def close() -> None:
        nonlocal group, used
        if group:
            lines = [p.start_line for p in group if p.start_line] + [p.end_line for p in group if p.end_line]
            heading, page = group_key
            chunks.append(Chunk("\n".join(p.text for p in group), heading, min(lines) if lines else None,
                                max(lines) if lines else None, page,
                                heading_tokens.get(heading, 0) <= limit // 2))
        group, used = [], 0

    for seg in segments:
        if seg.heading not in heading_tokens:
            heading_tokens[seg.heading] = embedder.count_tokens(seg.heading) + 1 if seg.heading else 0
        # A heading longer than half the window is embedded without it rather than starve the text.
        h = heading_tokens[seg.heading] if heading_tokens[seg.heading] <= limit // 2 else 0
        key = (seg.heading, seg.page)
        if key != group_key:
            close()
            group_key = key
        for piece in _pieces(seg, embedder, limit - h):
            if group and used + piece.tokens > limit - h:
                close()
                group_key = key
            group.append(piece)
            used += piece.tokens
    close()
    return chunks
