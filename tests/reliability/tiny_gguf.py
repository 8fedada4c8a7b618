"""Tiny, deliberately broken GGUF files written with the `gguf` package (llama.cpp's writer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_gguf(path: Path, *, arch: str = "llama", n_vocab: int = 3) -> Path:
    """A llama-shaped header with ``n_vocab`` tokens and one small tensor.

    With 3 tokens llama.cpp aborts the whole process while loading (a C++ exception, seen in
    this project); with an architecture it does not know it refuses the file.
    """
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_block_count(1)
    writer.add_feed_forward_length(16)
    writer.add_head_count(1)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"t{i}".encode() for i in range(n_vocab)])
    writer.add_token_scores([0.0] * n_vocab)
    writer.add_token_types([1] * n_vocab)
    d, ff = 8, 16
    tensors = {"token_embd.weight": (n_vocab, d), "output_norm.weight": (d,), "output.weight": (n_vocab, d),
               "blk.0.attn_norm.weight": (d,), "blk.0.attn_q.weight": (d, d), "blk.0.attn_k.weight": (d, d),
               "blk.0.attn_v.weight": (d, d), "blk.0.attn_output.weight": (d, d),
               "blk.0.ffn_norm.weight": (d,), "blk.0.ffn_gate.weight": (ff, d),
               "blk.0.ffn_up.weight": (ff, d), "blk.0.ffn_down.weight": (d, ff)}
    rng = np.random.default_rng(0)
    for name, shape in tensors.items():  # a complete model: loading gets as far as the vocabulary
        writer.add_tensor(name, rng.standard_normal(shape).astype(np.float32) * 0.02)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
