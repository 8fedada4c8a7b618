"""Explanations stream token by token and stop between tokens when asked."""

from __future__ import annotations

import pytest

from probllms_tui.core.mcq import MCQ

pytestmark = pytest.mark.slow

Q = MCQ("Which gas do plants take in for photosynthesis?", ("oxygen", "carbon dioxide", "helium"))


def test_explanation_streams_several_pieces(default_engine):
    pieces = list(default_engine.stream_explanation(Q, "B", max_tokens=12, temperature=0.0))
    assert len(pieces) >= 2 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces).strip()
    assert default_engine.last_generation_tps > 0


def test_should_stop_ends_the_stream_between_tokens(default_engine):
    calls = 0

    def stop_after_three() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 3

    pieces = list(default_engine.stream_explanation(Q, "B", max_tokens=64, temperature=0.0,
                                                    should_stop=stop_after_three))
    assert calls == 3  # asked once per token, and nothing generated after it said stop
    assert 1 <= len(pieces) <= 3
    # the engine is usable right after an interrupted stream
    assert default_engine.score(Q, method="letter").answer in Q.letters


def test_the_engine_says_when_an_explanation_ended_at_its_length_limit(default_engine):
    """Counting pieces undercounts tokens (empty and whitespace pieces are not passed on), so
    the app's "length limit" note comes from llama.cpp's own finish reason."""
    from probllms_tui.engine.base import hit_length_limit

    pieces = list(default_engine.stream_explanation(Q, "B", max_tokens=6, temperature=0.0))
    assert default_engine.last_finish_reason == "length"
    assert hit_length_limit(default_engine, len(pieces), 6)
    assert not hit_length_limit(object(), 3, 6) and hit_length_limit(object(), 6, 6)  # engines that do not say
