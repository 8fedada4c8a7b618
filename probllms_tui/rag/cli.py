"""`probllms-tui notes index | search | status`."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

notes_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Index and search your course notes.")

DataDirOpt = typer.Option(None, "--data-dir", help="Where the notes index lives ($PROBLLMS_HOME).")
ChromaUrlOpt = typer.Option(None, "--chroma-url", help="Use a Chroma server (http://host:port) instead of the data dir.")


def _root_notes(ctx: typer.Context) -> Path | None:
    """`probllms-tui --notes DIR notes index` (the app-wide option) when DIR is not given."""
    root = ctx.find_root()
    value = root.params.get("notes") if root.params else None
    return Path(value) if value else None


def _progress_printer():
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int, path: str) -> None:
        if interactive:
            width = 30
            filled = round(width * done / max(total, 1))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {path[-40:]:40}")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()
    return progress


@notes_app.command("index")
def index_command(
    ctx: typer.Context,
    notes_dir: Optional[Path] = typer.Argument(None, help="Folder of notes (default: --notes or the shipped notes)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Drop the index and build it again from the files."),
    data_dir: Optional[Path] = DataDirOpt,
    chroma_url: Optional[str] = ChromaUrlOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Index Markdown, text, PDF and LaTeX notes (only new or changed files are embedded)."""
    from probllms_tui.core.paths import default_notes_dir
    from probllms_tui.rag.service import build_index

    folder = notes_dir or _root_notes(ctx) or default_notes_dir()
    report = build_index(folder, data_dir, rebuild=rebuild, progress=_progress_printer(),
                         chroma_url=chroma_url, warn=lambda m: print(f"warning: {m}", file=sys.stderr))
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(f"indexed {report['indexed']} file(s), {report['unchanged']} unchanged, {report['removed']} removed, "
              f"{len(report['skipped'])} skipped; {report['chunks_total']} chunks in the index "
              f"({report['seconds']:.1f} s) from {report['notes_dir']}")
    if report["skipped"]:
        # The good files are indexed; a script still learns that some notes are missing.
        first = report["skipped"][0]
        more = f" and {len(report['skipped']) - 1} more" if len(report["skipped"]) > 1 else ""
        print(f"error: skipped {first['path']}: {first['reason']}{more} (the other notes are indexed)",
              file=sys.stderr)
        raise typer.Exit(1)


class SearchMode(str, Enum):
    """How notes are searched (rag/retrieve.py); typer lists the choices in --help."""

    hybrid = "hybrid"
    vector = "vector"
    bm25 = "bm25"


@notes_app.command("search")
def search_command(
    query: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(5, "--k", min=1, max=100, help="Number of passages."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
    mode: SearchMode = typer.Option(SearchMode.hybrid, "--mode", help="How to search."),
    show_all: bool = typer.Option(False, "--all", help="Also show passages below the relevance floor."),
    data_dir: Optional[Path] = DataDirOpt,
    chroma_url: Optional[str] = ChromaUrlOpt,
) -> None:
    """Show the note passages that best match QUERY, with file and lines or page.

    Passages below the relevance floor (the one answers use, rag/question_notes.py) are hidden
    unless --all: an answer would not cite them either.
    """
    from probllms_tui.core.errors import InputError
    from probllms_tui.rag.question_notes import RELEVANCE_FLOOR, relevant
    from probllms_tui.rag.retrieve import open_retriever

    retriever = open_retriever(data_dir, chroma_url)
    if retriever is None:
        raise InputError("no notes index yet: run `probllms-tui notes index` first")
    found = retriever.search(query, k=k, mode=mode.value)
    passages = found if show_all else relevant(found)
    hidden = len(found) - len(passages)
    if as_json:
        print(json.dumps([{**p.meta, "relevant": p.meta.get("similarity", 0.0) >= RELEVANCE_FLOOR, "text": p.text}
                          for p in passages], ensure_ascii=False, indent=2))
        return
    if not passages:
        print("no relevant passages" if hidden else "no matching passages")
    for i, p in enumerate(passages, 1):
        heading = f" — {p.meta['heading']}" if p.meta.get("heading") else ""
        below = "" if p.meta.get("similarity", 0.0) >= RELEVANCE_FLOOR else ", below the relevance floor"
        print(f"[{i}] {p.citation}{heading}  (similarity {p.meta.get('similarity', 0.0):.2f}{below})")
        body = " ".join(p.text.split())
        print(f"    {body[:300]}{'…' if len(body) > 300 else ''}\n")
    if hidden:
        print(f"({hidden} passage(s) below the relevance floor {RELEVANCE_FLOOR} hidden; --all shows them)")


@notes_app.command("status")
def status_command(
    as_json: bool = typer.Option(False, "--json"),
    data_dir: Optional[Path] = DataDirOpt,
    chroma_url: Optional[str] = ChromaUrlOpt,
) -> None:
    """Files, chunks, embedder, chunker version, notes folder and last indexing time."""
    from probllms_tui.rag.service import index_status

    status = index_status(data_dir, chroma_url)
    if as_json:
        print(json.dumps(status, indent=2))
        return
    if not status["exists"]:
        print(f"no notes index at {status['location']}: run `probllms-tui notes index`")
        return
    for key in ("location", "notes_dir", "files", "chunks", "embedder", "dimension", "chunker", "last_indexed"):
        print(f"{key + ':':14}{status[key]}")
    if status["problem"]:
        print(f"problem:      {status['problem']}")
