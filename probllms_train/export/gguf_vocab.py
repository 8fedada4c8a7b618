"""A SentencePiece ``tokenizer.model`` rebuilt from a GGUF file's own vocabulary.

For HF folders made from a GGUF (transformers' ``from_pretrained(..., gguf_file=)``, as the
Gemma benchmark and GGUF-based training recipes do): transformers rebuilds only a
``tokenizer.json``, and from that llama.cpp's converter writes a GPT-2 style vocabulary with
a guessed pre-tokenizer, which does not tokenize like the original file.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_sentencepiece_model(gguf_path: Path, hf_dir: Path) -> bool:
    """Rebuild Gemma's SentencePiece ``tokenizer.model`` from the GGUF vocabulary.

    Returns False, writing nothing, when the GGUF's vocabulary is not SentencePiece.

    Why: transformers rebuilds the tokenizer from GGUF as a ``tokenizer.json`` (BPE) only;
    given that, the converter falls back to a GPT-2 style vocabulary with a guessed
    pre-tokenizer, which tokenizes differently from the shipped model. With a
    ``tokenizer.model`` the converter's Gemma 3 path writes the same SentencePiece ("llama")
    vocabulary as the original GGUF. The pieces, scores and token types are copied as they
    are (GGUF token types use SentencePiece's numbering); user-defined pieces also go to
    ``added_tokens.json``, which is how the converter learns that type.
    """
    from gguf import GGUFReader
    from sentencepiece import sentencepiece_model_pb2 as spm_pb

    reader = GGUFReader(str(gguf_path))
    fields = reader.fields
    kind = fields.get("tokenizer.ggml.model")
    if kind is None or bytes(kind.parts[-1]).decode("utf-8", "replace") != "llama":
        return False  # not a SentencePiece vocabulary (e.g. GPT-2 style BPE): nothing to rebuild
    tokens = [bytes(fields["tokenizer.ggml.tokens"].parts[i]).decode("utf-8")
              for i in fields["tokenizer.ggml.tokens"].data]
    scores = [float(fields["tokenizer.ggml.scores"].parts[i][0]) for i in fields["tokenizer.ggml.scores"].data]
    types = [int(fields["tokenizer.ggml.token_type"].parts[i][0]) for i in fields["tokenizer.ggml.token_type"].data]

    def special(key: str) -> int:
        return int(fields[f"tokenizer.ggml.{key}"].parts[-1][0])

    proto = spm_pb.ModelProto()
    for tok, score, ttype in zip(tokens, scores, types):
        piece = proto.pieces.add()
        piece.piece, piece.score, piece.type = tok, score, ttype
    spec = proto.trainer_spec
    spec.model_type = spm_pb.TrainerSpec.BPE
    spec.vocab_size = len(tokens)
    spec.byte_fallback = True
    spec.unk_id, spec.bos_id = special("unknown_token_id"), special("bos_token_id")
    spec.eos_id, spec.pad_id = special("eos_token_id"), special("padding_token_id")
    norm = proto.normalizer_spec
    norm.name, norm.add_dummy_prefix = "identity", False
    norm.remove_extra_whitespaces, norm.escape_whitespaces = False, True
    (hf_dir / "tokenizer.model").write_bytes(proto.SerializeToString())
    added = {tok: i for i, (tok, ttype) in enumerate(zip(tokens, types)) if ttype == 4}
    (hf_dir / "added_tokens.json").write_text(json.dumps(added, ensure_ascii=False))
    return True
