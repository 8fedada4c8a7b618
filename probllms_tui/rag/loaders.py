"""Turn note files into located text segments: Markdown, plain text, PDF, LaTeX.

A segment is a block a reader sees as one unit (a paragraph, a list, a code block, a PDF
page) with where it came from: lines for text formats, a page for PDF, and the heading path
above it. Chunking (chunking.py) sizes them for the embedder; it never joins two PDF pages
or two sections, so every citation points at one place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
                 ".tex": "latex", ".pdf": "pdf"}
MAX_FILE_BYTES = 20 * 2**20  # a 50 MB "note" is a log or a dump, not notes: skip it, loudly


class LoadError(Exception):
    """The file cannot be read as notes; the message says why (shown as a warning)."""


@dataclass(frozen=True)
class Segment:
    text: str
    heading: str = ""             # "Probability > Bayes' rule"
    start_line: int | None = None  # 1-based, inclusive (text formats)
    end_line: int | None = None
    page: int | None = None       # 1-based (PDF)


def discover(notes_dir: Path) -> Iterator[Path]:
    """Note files under ``notes_dir`` by known suffix, sorted, hidden files and folders skipped.

    Symlinked folders are followed (a course folder often links last year's notes in), each
    real folder once so a link loop ends; a file reached by two paths (a symlink beside its
    target) is yielded once, under the first path in sorted order, so its passages do not take
    two of the few retrieval slots.
    """
    notes_dir = Path(notes_dir)
    seen_dirs: set[str] = set()
    found: list[Path] = []
    for top, dirs, names in os.walk(notes_dir, followlinks=True):
        real_top = os.path.realpath(top)
        if real_top in seen_dirs:
            dirs[:] = []
            continue
        seen_dirs.add(real_top)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            path = Path(top, name)
            if name.startswith(".") or path.suffix.lower() not in TEXT_SUFFIXES:
                continue
            # A note-named symlink that leads nowhere (dangling, a loop) is yielded too: reading
            # it fails with a warning naming it, instead of the file silently missing.
            if path.is_file() or (path.is_symlink() and not path.is_dir()):
                found.append(path)
    seen_files: set[str] = set()
    for path in sorted(found, key=lambda p: p.relative_to(notes_dir).parts):
        if not path.exists():  # a loop or a dangling link: no real file to share, each warns
            yield path
            continue
        real = os.path.realpath(path)
        if real not in seen_files:
            seen_files.add(real)
            yield path


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LoadError(f"too large ({size / 2**20:.0f} MB > {MAX_FILE_BYTES // 2**20} MB limit)")
        return path.read_bytes()
    except PermissionError:
        raise LoadError("permission denied") from None
    except OSError as exc:
        raise LoadError(f"cannot read ({exc.strerror or exc})") from None


def load_segments(path: Path, data: bytes) -> list[Segment]:
    kind = TEXT_SUFFIXES[path.suffix.lower()]
    if kind == "pdf":
        return load_pdf(data)
    text = decode_text(data)
    if kind == "markdown":
        return load_markdown(text)
    if kind == "latex":
        return load_latex(text)
    return load_plain(text)


def decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise LoadError("binary content, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not UTF-8 text (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _paragraphs(lines: list[str], first_line: int = 1) -> Iterator[tuple[str, int, int]]:
    """Blank-line separated blocks as (text, start_line, end_line)."""
    start = None
    for i, line in enumerate(lines + [""]):
        if line.strip() and start is None:
            start = i
        elif not line.strip() and start is not None:
            yield "\n".join(lines[start:i]), first_line + start, first_line + i - 1
            start = None


def load_plain(text: str) -> list[Segment]:
    return [Segment(t, "", a, b) for t, a, b in _paragraphs(text.split("\n"))]


def load_markdown(text: str) -> list[Segment]:
    """Top-level blocks from markdown-it (CommonMark), which knows a `#` in a code fence is not
    a heading; each block keeps its source lines and the heading path above it."""
    from markdown_it import MarkdownIt

    lines = _blank_front_matter(text.split("\n"))
    tokens = MarkdownIt("commonmark").parse("\n".join(lines))
    stack: list[tuple[int, str]] = []  # (level, title)
    segments: list[Segment] = []
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.map is None or tok.nesting == -1:
            continue
        a, b = tok.map  # 0-based [a, b)
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            title = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, title)]
            continue
        block = "\n".join(lines[a:b]).strip("\n")
        if not block.strip() or tok.type == "hr":
            continue
        heading = " > ".join(t for _, t in stack)
        # Trailing blank lines belong to no block: report the lines that hold text.
        end = a + len(block.split("\n"))
        segments.append(Segment(block, heading, a + 1, end))
    return segments


def _blank_front_matter(lines: list[str]) -> list[str]:
    """YAML (``---``) or TOML (``+++``) front matter, as Obsidian, Jekyll and Hugo notes start,
    turned into blank lines: CommonMark would read ``title: Week 3`` above ``---`` as a
    heading. Blanking, not cutting, keeps every later line number right."""
    fence = lines[0].strip() if lines else ""
    if fence not in ("---", "+++"):
        return lines
    closers = ("---", "...") if fence == "---" else ("+++",)
    # Front matter is keys ("title: Week 3", 'title = "x"'); a note opening with a "---" rule
    # above its text is not.
    first = next((line for line in lines[1:] if line.strip()), "")
    if not re.match(r"^[A-Za-z_][\w-]*\s*[:=]", first):
        return lines
    for end in range(1, min(len(lines), 200)):
        if lines[end].strip() in closers:
            return [""] * (end + 1) + lines[end + 1:]
    return lines


# The head of a sectioning command; its title is read by brace matching (_section_commands),
# since titles hold macros of their own: \section{Entropy of an \emph{ideal} gas}.
_SECTION_HEAD = re.compile(r"\\(part|chapter|section|subsection|subsubsection|paragraph)\*?\s*(?:\[[^\]]*\])?\s*\{")
_SECTION_LEVEL = {"part": 0, "chapter": 1, "section": 2, "subsection": 3, "subsubsection": 4, "paragraph": 5}


def _section_commands(block: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, title source) of each sectioning command in ``block``."""
    found: list[tuple[int, int, str, str]] = []
    for m in _SECTION_HEAD.finditer(block):
        if found and m.start() < found[-1][1]:
            continue
        depth, i = 1, m.end()
        while i < len(block) and depth:
            if block[i] == "\\":
                i += 2  # an escaped brace does not count
                continue
            depth += {"{": 1, "}": -1}.get(block[i], 0)
            i += 1
        if depth == 0:  # an unclosed title stays text rather than eating the block
            found.append((m.start(), i, m.group(1), block[m.end():i - 1]))
    return found


def load_latex(text: str) -> list[Segment]:
    """LaTeX as readable text (pylatexenc), paragraph by paragraph so lines stay known; a
    paragraph is also cut at each sectioning command in it, so no segment spans two sections."""
    from pylatexenc.latex2text import LatexNodes2Text

    lines = text.split("\n")
    first = 1
    begin = text.find("\\begin{document}")
    if begin >= 0:  # the preamble is macros, not notes
        first = text.count("\n", 0, begin) + 2
        lines = lines[first - 1:]
    converter = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)

    def readable(source: str) -> str:
        source = re.sub(r"\\end\{document\}", "", source)
        try:
            out = converter.latex_to_text(source)
        except Exception:  # pylatexenc is tolerant; a block it still rejects stays as source
            out = source
        return re.sub(r"[ \t]+", " ", out).strip()

    stack: list[tuple[int, str]] = []
    segments: list[Segment] = []
    for block, a, _ in _paragraphs(lines, first):
        commands = _section_commands(block)
        starts = [0] + [end for _, end, _, _ in commands]
        ends = [start for start, _, _, _ in commands] + [len(block)]
        for n, (lo, hi) in enumerate(zip(starts, ends)):
            if n > 0:  # the command that opens this piece
                _, _, kind, title = commands[n - 1]
                level = _SECTION_LEVEL[kind]
                stack = [(lv, t) for lv, t in stack if lv < level] + [(level, readable(title))]
            piece = block[lo:hi]
            body = readable(piece)
            if body:
                lead = len(piece) - len(piece.lstrip())
                tail = len(re.sub(r"\\end\{document\}\s*$", "", piece).rstrip())
                segments.append(Segment(body, " > ".join(t for _, t in stack),
                                        a + block.count("\n", 0, lo + lead), a + block.count("\n", 0, lo + tail)))
    return segments


def load_pdf(data: bytes) -> list[Segment]:
    """One segment per page with text (pypdf, BSD); scanned pages without text are skipped."""
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings would bury ours
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise LoadError("encrypted PDF")
        pages = []
        for number, page in enumerate(reader.pages, 1):
            text = (page.extract_text() or "").strip()
            if text:
                pages.append(Segment(re.sub(r"[ \t]+", " ", text), "", None, None, number))
        return pages
    except LoadError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise LoadError(f"corrupt PDF ({type(exc).__name__}: {str(exc)[:80]})") from None
