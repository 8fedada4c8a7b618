"""A tiny Llama model folder built offline in seconds, for tests and for trying the pipeline.

The folder is a real Hugging Face checkpoint (config, safetensors, SentencePiece tokenizer)
that TRL/PEFT train and that llama.cpp's converter accepts. Two traps decide how it is built
:
- the tokenizer is a SentencePiece BPE model (``tokenizer.model``): a ``tokenizers``-trained
  BPE makes the GGUF converter stop with "BPE pre-tokenizer was not recognized";
- it is loaded with ``LlamaTokenizer.from_pretrained(folder)``; ``LlamaTokenizer(vocab_file=)``
  silently yields a 3-token vocabulary in transformers 5 and a GGUF that aborts llama.cpp.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

# Built-in corpus: the prompt layout of probllms_tui.core.prompt plus short study sentences,
# so the tokenizer learns merges for the words the fixtures and prompts actually use.
_CORPUS_LINES = (
    "Question: What is the time complexity of binary search?\n\nAnswer: O(log n), since each step halves the range.",
    "Question: Which data structure gives first in, first out order?\n\nAnswer: A queue.",
    "Question: What does a hash table store?\n\nAnswer: Keys mapped to values through a hash function.",
    "Question: Is every regular language context free?\n\nAnswer: Yes, regular languages are context free.",
    "Question: What is a prime number?\n\nAnswer: A number greater than one with no divisors but one and itself.",
    "Notes:\n[1] lecture notes, page 3: gradient descent updates the weights against the gradient.",
    "Options:\nA. four\nB. six\nC. seven\nD. nine\n\nAnswer: C",
    "The derivative of x squared is two x. The integral of a constant is linear.",
    "A matrix is invertible when its determinant is not zero.",
    "Dynamic programming stores the answers of overlapping subproblems.",
    "The correct answer explains the reason. The wrong answer guesses without a reason.",
    "Sorting with merge sort takes n log n comparisons in the worst case.",
    "Probability of two independent events is the product of their probabilities.",
    "Explanation: the stack is last in, first out, so the most recent item leaves first.",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 + - * / = ( ) [ ] { } , . ; : ? !",
)

TINY_CONFIG = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    rms_norm_eps=1e-5,
    tie_word_embeddings=False,
)


def _train_sentencepiece(model_prefix_dir: Path, *, vocab_size: int, seed: int) -> Path:
    import sentencepiece as spm

    rng = random.Random(seed)
    lines = list(_CORPUS_LINES) * 8
    rng.shuffle(lines)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        byte_fallback=True,
        character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=3,
        pad_piece="<pad>",
        split_digits=True,
        hard_vocab_limit=False,  # the corpus is small: take the merges it has, never fail
        num_threads=1,  # deterministic
        minloglevel=2,
    )
    path = model_prefix_dir / "tokenizer.model"
    path.write_bytes(model.getvalue())
    return path


def build_tiny_model(out_dir: Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a tiny Llama (2 layers, hidden 64) and its tokenizer to ``out_dir``; return it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaTokenizer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _train_sentencepiece(out_dir, vocab_size=vocab_size, seed=seed)
    tokenizer = LlamaTokenizer.from_pretrained(str(out_dir), pad_token="<pad>")
    if len(tokenizer) < 260:  # the 3-token trap above would make every later step wrong
        raise RuntimeError(f"tiny tokenizer has only {len(tokenizer)} tokens")

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TINY_CONFIG,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
