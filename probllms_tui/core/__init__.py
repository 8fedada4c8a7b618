"""The shared core: MCQ type, readers, paste parser, the one prompt format, the model registry.

Nothing here imports torch, transformers, Textual or llama_cpp: the TUI, the benchmark and
the training data builders all stand on it, and the TUI's start-up path must stay light.
"""
