"""Tiny hand-written GGUF files (the `gguf` package's writer) for the ways a model file breaks.

A 2-block, 32-wide llama with a byte-level SentencePiece-style vocabulary: a few hundred KB,
written in milliseconds, loadable by llama.cpp unless a test breaks it on purpose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def byte_vocab() -> list[str]:
    # <unk>, <s>, </s>, then the 256 byte tokens SentencePiece's byte_fallback uses, then words.
    return ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["▁the", "▁a", "▁is"]


def write_gguf(path: Path, *, tokens: list[str] | None = None, arch: str = "llama",
               chat_template: str | None = None, n_embd: int = 32, n_layers: int = 2) -> Path:
    import gguf

    tokens = byte_vocab() if tokens is None else tokens
    n_vocab, n_ff, n_head = len(tokens), 64, 4
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("tiny-test")
    w.add_context_length(128)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layers)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_file_type(0)  # all F32
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types([2, 3, 3] + [6] * 256 + [1] * (n_vocab - 259) if n_vocab > 259 else [1] * n_vocab)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    if chat_template:
        w.add_chat_template(chat_template)
    rng = np.random.default_rng(0)

    def t(name: str, *shape: int) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    t("token_embd.weight", n_vocab, n_embd)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    t("output.weight", n_vocab, n_embd)
    for i in range(n_layers):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            t(f"blk.{i}.{name}.weight", n_embd, n_embd)
        t(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        t(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        t(f"blk.{i}.ffn_down.weight", n_embd, n_ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def truncated(src: Path, dst: Path, keep: float = 0.6) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def three_token_vocab(path: Path) -> Path:
    """What transformers 5's LlamaTokenizer(vocab_file=...) once produced: llama.cpp aborts."""
    return write_gguf(path, tokens=["<unk>", "<s>", "</s>"])


def unknown_architecture(path: Path) -> Path:
    return write_gguf(path, arch="frobnicator")
