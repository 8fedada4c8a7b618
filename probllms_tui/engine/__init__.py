"""The answer engine: scores MCQ options and streams explanations from a GGUF model.

``Engine`` is the one boundary the TUI, the benchmark and the tests swap: the real
``LlamaEngine`` (llama-cpp-python), a tiny GGUF in fast tests, or a scripted fake in UI tests.
"""

from probllms_tui.engine.base import Engine, ScoreResult

__all__ = ["Engine", "ScoreResult"]
