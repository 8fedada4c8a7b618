from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_tiny_model_loads_with_a_real_vocabulary(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert (tiny_model_dir / "tokenizer.model").is_file()  # SentencePiece, as llama.cpp wants
    # not the 3-token trap: 256 byte pieces + specials + learned merges
    assert len(tokenizer) == model.config.vocab_size > 300
    assert tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id
    text = "Question: What is a queue?\n\nAnswer: A list é"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text  # byte fallback round-trips unseen characters
    assert len(ids) < len(text)  # merges were learned
    logits = model(**tokenizer(text, return_tensors="pt")).logits
    assert logits.shape[-1] == len(tokenizer)


def test_tiny_model_is_deterministic(tiny_model_dir, tmp_path):
    from probllms_train.tiny_model import build_tiny_model

    again = build_tiny_model(tmp_path / "again")
    assert (again / "tokenizer.model").read_bytes() == (tiny_model_dir / "tokenizer.model").read_bytes()
    assert (again / "model.safetensors").read_bytes() == (tiny_model_dir / "model.safetensors").read_bytes()
