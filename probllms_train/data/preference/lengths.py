"""Token-length percentiles of prompts and responses, counted with a real tokenizer.

Default: the vocabulary of a GGUF model from the registry (llama.cpp loads the vocabulary
only, no weights: about a second). A folder is read as a Hugging Face tokenizer (the
training model's, on the cluster). "words" counts whitespace words, for quick runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

PERCENTILES = (50, 90, 95, 99, 100)


def token_counter(tokenizer: str | None) -> tuple[str, Callable[[str], int], Callable[[], None]]:
    """(description, count(text), close()) for a registry name / GGUF path, None (default) or "words"."""
    if tokenizer == "words":
        return "whitespace words", lambda text: len(text.split()), lambda: None
    if tokenizer and Path(tokenizer).is_dir():
        from transformers import AutoTokenizer  # train extra; only for a tokenizer folder

        tok = AutoTokenizer.from_pretrained(tokenizer)
        return (f"{Path(tokenizer).name} (HF tokenizer)",
                lambda text: len(tok(text, add_special_tokens=False)["input_ids"]), lambda: None)
    import llama_cpp

    from probllms_tui.core.paths import models_dir
    from probllms_tui.core.registry import Registry

    entry, path = Registry(models_dir()).resolve(tokenizer)
    llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)

    def count(text: str) -> int:
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return f"{entry.name} (GGUF vocabulary)", count, llm.close


def percentiles(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    out = {f"p{p}": round(float(np.percentile(arr, p)), 1) for p in PERCENTILES}
    return out | {"mean": round(float(arr.mean()), 1)}
