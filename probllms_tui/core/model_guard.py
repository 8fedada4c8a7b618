"""Refuse GGUF files that would take the whole process down, before llama.cpp opens them.

A GGUF whose tokenizer lost its vocabulary (3 tokens: `LlamaTokenizer(vocab_file=)` in
transformers 5 does this silently) converts and quantizes fine, then makes llama.cpp abort
the process with an uncaught C++ exception while loading: no Python error, the app simply
vanishes. This reads only the start of the header (the architecture and the length of the
token list, which sit before any large array in files the converter writes), so it costs
milliseconds where a full header walk over a 262k-token vocabulary costs seconds.
"""

from __future__ import annotations

import struct
from pathlib import Path

from probllms_tui.core.errors import ModelLoadError

MIN_VOCAB = 100  # a byte-fallback tokenizer alone has 256 tokens; below 100 nothing real loads
_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_MAX_KV_SCANNED = 4096


def _header_facts(path: Path) -> tuple[str | None, int | None]:
    """(architecture, number of tokens) from the header; None where not found or unreadable."""
    arch, n_tokens = None, None
    with path.open("rb") as fh:
        def take(fmt: str):
            size = struct.calcsize(fmt)
            data = fh.read(size)
            if len(data) != size:
                raise EOFError
            return struct.unpack(fmt, data)[0]

        def take_str() -> bytes:
            n = take("<Q")
            if n > 1 << 20:
                raise ValueError("implausible string length")
            data = fh.read(n)
            if len(data) != n:
                raise EOFError
            return data

        def skip_value(vtype: int) -> None:
            if vtype in _SCALAR:
                fh.seek(_SCALAR[vtype], 1)
            elif vtype == _STRING:
                fh.seek(take("<Q"), 1)
            elif vtype == _ARRAY:
                etype, count = take("<I"), take("<Q")
                if etype in _SCALAR:
                    fh.seek(_SCALAR[etype] * count, 1)
                else:
                    for _ in range(count):
                        skip_value(etype)
            else:
                raise ValueError(f"unknown value type {vtype}")

        if fh.read(4) != b"GGUF":
            return None, None
        take("<I")  # version
        take("<Q")  # tensors
        n_kv = take("<Q")
        for _ in range(min(n_kv, _MAX_KV_SCANNED)):
            key = take_str().decode("utf-8", "replace")
            vtype = take("<I")
            if key == "general.architecture" and vtype == _STRING:
                arch = take_str().decode("utf-8", "replace")
            elif key == "tokenizer.ggml.tokens" and vtype == _ARRAY:
                take("<I")
                n_tokens = take("<Q")
                return arch, n_tokens  # the token list is the first big array: stop here
            else:
                skip_value(vtype)
    return arch, n_tokens


def known_architectures() -> set[str]:
    import gguf

    return set(gguf.MODEL_ARCH_NAMES.values())


def check_model_header(path: str | Path) -> None:
    """ModelLoadError (one line) for a vocabulary or architecture llama.cpp cannot survive.

    Anything this cannot read is left to the full check (engine/gguf_check.py), which names
    missing, truncated and non-GGUF files.
    """
    p = Path(path)
    try:
        arch, n_tokens = _header_facts(p)
    except (OSError, EOFError, ValueError, struct.error):
        return
    if n_tokens is not None and n_tokens < MIN_VOCAB:
        raise ModelLoadError(f"model {p}: its vocabulary has {n_tokens} token(s), a language model has "
                             f"thousands (a broken tokenizer export?); refusing to load it")
    if arch is not None and arch not in known_architectures():
        raise ModelLoadError(f"model {p}: unknown architecture {arch!r}; this llama.cpp cannot run it")
