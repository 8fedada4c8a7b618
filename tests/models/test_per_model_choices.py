"""A manifest entry's own scoring method and threads reach the engine."""

from __future__ import annotations

from probllms_tui.core.registry import ModelEntry, Registry
from probllms_tui.engine.load import open_engine


def test_entry_threads_and_scoring_are_used(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("PROBLLMS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PROBLLMS_THREADS", raising=False)
    models = tmp_path / "models"
    Registry(models).register(ModelEntry(name="tiny", file=str(tiny["ok"]), scoring_method="letter",
                                         threads=[1, 1]))
    engine = open_engine("tiny", models_dir=models, n_ctx=128)
    try:
        assert engine.threads == (1, 1) and engine.default_method == "letter"
    finally:
        engine.close()
    engine = open_engine("tiny", models_dir=models, n_ctx=128, threads=(2, 2), method="cloze")
    try:  # what the caller asks for still wins (bench --threads, ask --method)
        assert engine.threads == (2, 2) and engine.default_method == "cloze"
    finally:
        engine.close()


def test_a_calibration_chosen_per_option_kind_serves_each_question_by_its_kind(tiny, tmp_path, monkeypatch):
    from probllms_tui.core.mcq import MCQ

    monkeypatch.setenv("PROBLLMS_HOME", str(tmp_path / "home"))
    models = tmp_path / "models"
    registry = Registry(models)
    registry.register(ModelEntry(name="tiny", file=str(tiny["ok"])))
    registry.set_calibration("tiny", {"scoring_method": "letter", "calibrations": {},
                                      "scoring_method_by_kind": {"text": "letter", "numeric": "cloze"}})
    text = MCQ(id="t", stem="Which is a colour?", options=("red", "dog", "car", "tree"), answer="A")
    numbers = MCQ(id="n", stem="2 + 2 = ?", options=("3", "4", "5", "6"), answer="B")
    engine = open_engine("tiny", models_dir=models, n_ctx=128)
    try:
        assert engine.method_label == "letter (text), cloze (numeric)"
        assert [engine.score(q).method for q in (text, numbers)] == ["letter", "cloze"]
        assert [r.method for r in engine.score_many([text, numbers, text])] == ["letter", "cloze", "letter"]
        assert engine.score_many([numbers])[0].scores == engine.score(numbers, method="cloze").scores
    finally:
        engine.close()
    engine = open_engine("tiny", models_dir=models, n_ctx=128, method="cloze")
    try:  # a method asked for (ask --method, bench --method) serves every kind
        assert [engine.score(q).method for q in (text, numbers)] == ["cloze", "cloze"]
    finally:
        engine.close()

    registry.set_calibration("tiny", {"scoring_method": "letter", "calibrations": {},
                                      "scoring_method_by_kind": {"numeric": "vibes"}})
    warned = []
    engine = open_engine("tiny", models_dir=models, n_ctx=128, warn=warned.append)
    try:  # a damaged record is named and ignored; the entry's own method serves
        assert engine.method_by_kind == {} and engine.default_method == "cloze"
        assert len(warned) == 1 and "'vibes'" in warned[0]
    finally:
        engine.close()
