"""The worker's steps without Textual: batching streamed text, stopping, LaTeX for the terminal."""

from __future__ import annotations

from fakes import EXPLANATION, FakeEngine, FakeRetriever

from probllms_tui.app import inference
from probllms_tui.app.math_text import MathStream, render_math
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import Passage
from probllms_tui.rag.question_notes import QuestionNotes
from probllms_tui.store import Settings

Q = MCQ("Which is prime?", ("4", "6", "7", "9"), "C")


def run(engine, settings=Settings(), stop=lambda: False):
    events = []
    inference.answer(engine, Q, QuestionNotes(), settings, emit=events.append, should_stop=stop)
    return events


def test_fast_tokens_reach_the_ui_in_few_batches_and_none_is_lost():
    events = run(FakeEngine())
    pieces = [e for e in events if isinstance(e, inference.Piece)]
    assert isinstance(events[0], inference.Scored) and isinstance(events[-1], inference.Done)
    assert "".join(p.text for p in pieces) == "".join(EXPLANATION)
    assert len(pieces) < len(EXPLANATION)  # batched: the UI is not redrawn per token
    assert events[-1].tokens == len(EXPLANATION) and not events[-1].stopped


def test_slow_tokens_still_stream_as_they_come():
    pieces = [e for e in run(FakeEngine(delay=inference.UI_INTERVAL_S + 0.01)) if isinstance(e, inference.Piece)]
    assert len(pieces) >= len(EXPLANATION) - 1


def test_stop_ends_generation_and_says_so():
    engine = FakeEngine()
    events = run(engine, stop=lambda: engine.streamed_pieces >= 2)
    assert events[-1].stopped and events[-1].tokens == 2


def test_retrieval_respects_k_the_rag_switch_and_the_token_budget():
    passages = [Passage("word " * 50, f"n.md:{i}") for i in range(5)]
    retriever = FakeRetriever(passages)
    engine = FakeEngine(n_ctx=512)
    got = inference.retrieve(retriever, Q, Settings(k=4, max_tokens=64), engine).passages
    assert retriever.queries[0][1] == 4
    assert 0 < len(got) < 4  # budget: half of 512 minus 64 answer tokens fits three passages
    assert inference.retrieve(retriever, Q, Settings(rag=False), engine).passages == []
    assert inference.retrieve(None, Q, Settings(), engine).passages == []


def test_math_renders_even_when_split_across_tokens():
    stream = MathStream()
    shown = "".join(stream.feed(p) for p in ["so $\\fr", "ac{1}{2} + \\al", "pha$ and $5 more"]) + stream.flush()
    assert shown == "so 1/2 + α and $5 more"
    assert render_math(r"\(x \leq y\)").replace(" ", "") == "x≤y"
