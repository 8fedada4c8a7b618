"""The one retrieval rule: every passage carries its relevance, off-topic ones never reach the
prompt, and the app, `ask` and the benchmarks send the same query with the same budget."""

from __future__ import annotations

import pytest

from probllms_tui.core.mcq import MCQ
from probllms_tui.rag.question_notes import (
    EXPLANATION_TOKENS,
    RELEVANCE_FLOOR,
    notes_budget,
    notes_for_question,
    question_query,
)
from probllms_tui.rag.retrieve import open_retriever
from probllms_tui.rag.service import build_index

ON_TOPIC = MCQ("Which algorithm finds shortest paths when every edge weight is non-negative?",
               ("Dijkstra's algorithm", "Bubble sort", "Binary search", "Huffman coding"), "A")
OFF_TOPIC = MCQ("Which organelle makes ATP in eukaryotic cells?",
                ("mitochondrion", "ribosome", "Golgi apparatus", "lysosome"), "A")


def words(text: str) -> int:
    return len(text.split())


@pytest.mark.slow
def test_relevant_notes_are_kept_and_off_topic_ones_dropped(notes, tmp_path, embedder):
    data = tmp_path / "home"
    build_index(notes, data)
    retriever = open_retriever(data)
    found = retriever.search(question_query(OFF_TOPIC), k=3)
    assert found and all(0.0 <= p.meta["similarity"] < RELEVANCE_FLOOR for p in found)
    off = notes_for_question(retriever, OFF_TOPIC, k=3, n_ctx=2048, count_tokens=words)
    assert off.passages == [] and off.below_floor == len(found) and off.searched
    assert off.note == "No relevant notes for this question."

    on = notes_for_question(retriever, ON_TOPIC, k=3, n_ctx=2048, count_tokens=words)
    assert on.passages and "Dijkstra" in on.evidence.text and on.note == ""
    assert on.passages[0].meta["similarity"] >= RELEVANCE_FLOOR
    # the BM25-only search gets a similarity too: it is an absolute property of the passage
    assert all("similarity" in p.meta for p in retriever.search("Dijkstra", k=3, mode="bm25"))


class RecordingRetriever:
    def __init__(self):
        self.calls = []

    def search(self, query, k):
        self.calls.append((query, k))
        return []


class Scorer:
    n_ctx = 1024

    def count_tokens(self, text):
        return words(text)


def test_app_ask_and_benchmarks_send_the_same_query_and_budget(monkeypatch):
    from probllms_tui.app import inference
    from probllms_tui.cli import ask
    from probllms_tui.store import Settings
    from probllms_train.bench import mcqa

    budgets = []
    real_fit = notes_for_question.__globals__["fit_passages"]

    def spy(passages, budget, count_tokens):
        budgets.append(budget)
        return real_fit(passages, budget, count_tokens)

    monkeypatch.setitem(notes_for_question.__globals__, "fit_passages", spy)

    class Found(RecordingRetriever):
        def search(self, query, k):
            super().search(query, k)
            from probllms_tui.core.prompt import Passage

            return [Passage("Dijkstra relaxes edges.", "n.md:1-1", {"similarity": 0.9})]

    r_app, r_ask, r_bench = Found(), Found(), Found()
    inference.retrieve(r_app, ON_TOPIC, Settings(), Scorer())
    monkeypatch.setattr("probllms_tui.rag.retrieve.open_retriever", lambda data_dir=None: r_ask)
    ask.open_notes(ON_TOPIC, Scorer(), data_dir=None, k=Settings().k, explanation_tokens=EXPLANATION_TOKENS)
    mcqa._retrieve(r_bench, Scorer(), ON_TOPIC, Settings().k)
    assert r_app.calls == r_ask.calls == r_bench.calls == [(question_query(ON_TOPIC), 3)]
    assert budgets == [notes_budget(1024)] * 3 == [1024 // 2 - Settings().max_tokens] * 3


@pytest.mark.slow
def test_notes_search_hides_what_answers_would_not_cite(notes, tmp_path, embedder, capsys):
    from probllms_tui.rag.cli import SearchMode, search_command

    data = tmp_path / "home"
    build_index(notes, data)
    search_command("Which organelle makes ATP in eukaryotic cells?", k=3, as_json=False, mode=SearchMode.hybrid,
                   show_all=False, data_dir=data, chroma_url=None)
    out = capsys.readouterr().out
    assert out.startswith("no relevant passages") and "3 passage(s) below the relevance floor" in out
    search_command("Dijkstra shortest paths", k=1, as_json=False, mode=SearchMode.vector, show_all=False,
                   data_dir=data, chroma_url=None)
    assert "notes/graphs.tex" in capsys.readouterr().out


def test_relevant_notes_without_room_in_the_context_say_so():
    """Max tokens taking the context left "No relevant notes" under an answer the notes cover."""
    from probllms_tui.core.prompt import Passage
    from probllms_tui.rag.question_notes import notes_for_query

    class Found:
        def search(self, query, k):
            return [Passage("Overfitting: validation error rises.", "notes/ml.md:3-4", {"similarity": 0.7})]

    cramped = notes_for_query(Found(), "overfitting?", k=3, n_ctx=512, count_tokens=len, explanation_tokens=2048)
    assert cramped.passages == [] and cramped.no_room == 1 and "no room for them" in cramped.note
    roomy = notes_for_query(Found(), "overfitting?", k=3, n_ctx=4096, count_tokens=len, explanation_tokens=192)
    assert len(roomy.passages) == 1 and roomy.note == ""
