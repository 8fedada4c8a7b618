"""Small note files written by the tests themselves (no shared data)."""

from __future__ import annotations

from pathlib import Path

MARKDOWN = """\
# Probability

Probability spaces assign a measure to events.

## Bayes' rule

Bayes' rule relates P(A|B) to P(B|A): the posterior is the likelihood times the prior over the evidence.
It is used to update beliefs after seeing evidence.

```python
# a comment in a code fence, not a heading
posterior = likelihood * prior / evidence
```

## Expectation

The expectation of a random variable is linear: E[X+Y] = E[X] + E[Y].
"""

TEXT = """\
Markov chains.

A Markov chain is memoryless: the next state depends only on the current state.

A stationary distribution pi satisfies pi P = pi.
"""

LATEX = r"""\documentclass{article}
\newcommand{\R}{\mathbb{R}}
\begin{document}
\section{Graphs}
A \emph{spanning tree} of a connected graph with $n$ vertices has exactly $n-1$ edges.

\subsection{Search}
Dijkstra's algorithm computes shortest paths when all edge weights are non-negative.
\end{document}
"""

PDF_PAGES = [
    "Gradient descent moves against the gradient with a learning rate.",
    "Overfitting: the training loss falls while the validation loss rises.",
]


def _escape_pdf(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (correct xref offsets)."""
    n = len(pages)
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               "<< /Type /Pages /Kids [" + " ".join(f"{4 + 2 * i} 0 R" for i in range(n)) + f"] /Count {n} >>",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({_escape_pdf(text)}) Tj ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def write_notes(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probability.md").write_text(MARKDOWN)
    (folder / "chains.txt").write_text(TEXT)
    (folder / "graphs.tex").write_text(LATEX)
    (folder / "ml-slides.pdf").write_bytes(make_pdf(PDF_PAGES))
    return folder
