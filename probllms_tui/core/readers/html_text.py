"""HTML from Moodle and Anki fields -> the plain text a terminal shows.

Entities become characters, ``<br>`` and block elements become line breaks, list items get
"- " or "1. ", table cells are kept apart by " | ", ``<pre>`` keeps its indentation,
``<sup>``/``<sub>`` become ``^``/``_`` (``2<sup>10</sup>`` is 2^10, not 210: flattening
changes what a math question asks), and an image or an attached file (``@@PLUGINFILE@@/name``) becomes
``[image: name]`` / ``[file: name]``: the student learns that the question refers to a
picture the terminal cannot show instead of reading a sentence that silently lost it.
Stdlib ``html.parser`` because it never fails on broken markup, which exported banks have.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote

_BLOCKS = {"p", "div", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
           "blockquote", "pre", "section", "article", "dl", "dt", "dd"}
_SKIP_CONTENT = {"script", "style", "head", "title"}
_PRE_SPACE = "\x01"
# 2<sup>e</sup>, 1<sup>st</sup>: ordinals (French and English), not powers.
_ORDINALS = {"e", "er", "re", "ère", "ème", "nd", "rd", "st", "th"}
_TAG_HINT = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")


def file_name(src: str) -> str:
    """``@@PLUGINFILE@@/folder/pic%20a.png`` -> ``pic a.png``."""
    return unquote(src.rsplit("/", 1)[-1].split("?", 1)[0]) or src


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.lists: list[list[int]] = []  # a counter per open <ol>, None-like [-1] for <ul>
        self.skipping = 0
        self.pre = 0
        self.cells = 0  # cells opened in the current table row
        self.scripts: list[tuple[str, int]] = []  # open <sup>/<sub>: (tag, index in parts)
        self._pending_file: str | None = None  # an <a> linking an attached file

    def _newline(self) -> None:
        self.parts.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag in _SKIP_CONTENT:
            self.skipping += 1
        elif tag == "br":
            self._newline()
        elif tag in ("sup", "sub"):
            self.scripts.append((tag, len(self.parts)))
        elif tag in ("td", "th"):
            if self.cells:
                self.parts.append(" | ")
            self.cells += 1
        elif tag == "img":
            name = a.get("alt", "").strip() if not a.get("src") else file_name(a["src"])
            self.parts.append(f" [image: {name or 'unnamed'}] ")
        elif tag in ("ul", "ol"):
            self.lists.append([0 if tag == "ol" else -1])
            self._newline()
        elif tag == "li":
            self._newline()
            counter = self.lists[-1] if self.lists else [-1]
            if counter[0] >= 0:
                counter[0] += 1
                self.parts.append(f"{counter[0]}. ")
            else:
                self.parts.append("- ")
        elif tag in ("audio", "video", "source", "embed", "object") and (a.get("src") or a.get("data")):
            self.parts.append(f" [file: {file_name(a.get('src') or a.get('data'))}] ")
        elif tag == "tr":  # rows end with a line break; one at the start too would leave blank lines
            self.cells = 0
        elif tag in _BLOCKS:
            self._newline()
            if tag == "pre":
                self.pre += 1
        if tag == "a" and "@@PLUGINFILE@@" in a.get("href", ""):
            self._pending_file = file_name(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("sup", "sub") and self.scripts and self.scripts[-1][0] == tag:
            _, at = self.scripts.pop()
            inner = "".join(self.parts[at:]).strip()
            before = next((p[-1] for p in reversed(self.parts[:at]) if p), "")  # not a join of all parts
            if inner and not (tag == "sup" and before.isdigit() and inner.lower() in _ORDINALS):
                simple = len(inner) == 1 or inner.isdigit()
                self.parts[at:] = [("^" if tag == "sup" else "_") + (inner if simple else f"({inner})")]
            return
        if tag in _SKIP_CONTENT:
            self.skipping = max(0, self.skipping - 1)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._newline()
        elif tag in _BLOCKS:
            self._newline()
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
        elif tag == "a" and self._pending_file:
            self.parts.append(f" [file: {self._pending_file}]")
            self._pending_file = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        # Source line breaks in HTML are spaces; only <br> and blocks break lines (but <pre> keeps them).
        # In <pre>, spaces are held as _PRE_SPACE so the line clean-up below keeps indentation.
        self.parts.append(data.replace("\t", "    ").replace(" ", _PRE_SPACE) if self.pre
                          else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip().replace(_PRE_SPACE, " ") for line in text.split("\n")]
    # Collapse the blank lines nested blocks leave behind; keep at most one empty line.
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def looks_like_html(text: str) -> bool:
    return bool(_TAG_HINT.search(text))
