"""ProbLLMs study assistant: MCQ practice and exam-question answering on local GGUF models."""

__version__ = "0.1.0"
