"""Check a GGUF file before llama.cpp opens it.

llama.cpp can abort the whole process (a C++ exception, no Python error) on some malformed
files, and reports others only as a bare "failed to load". A student pointing ``--model`` at
the wrong file deserves one clear line, so we validate the header, the tensor table and the
file length with the ``gguf`` package (llama.cpp's own reader) first, and check memory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from probllms_tui.core.errors import ModelLoadError

GGUF_MAGIC = b"GGUF"


def _mem_available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# Header keys kept by default: what the listing shows and what the checks below need.
META_KEYS = ("general.architecture", "general.name", "general.file_type", "general.basename",
             "general.alignment", "general.size_label", "tokenizer.ggml.model",
             "tokenizer.chat_template", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id")
# How llama.cpp finds the newline token while loading the vocabulary: SentencePiece vocabs
# ("llama") by the byte token <0x0A> or a literal "\n", byte-level BPE vocabs ("gpt2") by
# "Ċ" (U+010A, the BPE byte alphabet's newline). When none exists llama.cpp does not fail
# cleanly: it throws std::out_of_range (or asserts) and the whole process aborts.
_NEWLINE_TOKENS = {b"<0x0A>", b"\n", "\u010a".encode()}
_NEWLINE_NEEDED = {"llama": "<0x0A>", "gpt2": "\u010a"}


def read_metadata(path: Path, keys: tuple[str, ...] = META_KEYS) -> dict[str, Any]:
    """Read chosen header keys and what the tensor table says, without loading the model.

    Why not ``gguf.GGUFReader``: it decodes every array (Gemma's 262k-token vocabulary) into
    numpy objects and took 14 s on the default model; this walk skips arrays and takes
    well under a second. Tensor sizes use the ``gguf`` package's own block-size table.
    Besides ``keys`` it returns ``context_length``, ``_n_vocab`` (tokens in the vocabulary),
    ``_has_newline`` (whether llama.cpp will find its newline token), ``_n_params`` (weights
    in the tensor table), ``_tensor_end`` (bytes the file must hold) and ``_n_tensors``.
    """
    import mmap
    import struct

    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    u32, u64 = struct.Struct("<I"), struct.Struct("<Q")
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        size = len(mm)
        pos = 0

        def take(fmt: str) -> Any:
            nonlocal pos
            v = struct.unpack_from(fmt, mm, pos)[0]
            pos += struct.calcsize(fmt)
            return v

        def take_str() -> bytes:
            nonlocal pos
            n = take("<Q")
            if pos + n > size:
                raise ValueError("string past end of file")
            b = mm[pos:pos + n]
            pos += n
            return b

        def skip_strings(count: int, find: set[bytes] | None = None) -> bool:
            # The hot loop of a listing (150k-260k vocabulary strings and as many merges per
            # model): no nested calls, and only strings short enough to be a newline token
            # are ever sliced.
            nonlocal pos
            found, p = False, pos
            for _ in range(count):
                n = u64.unpack_from(mm, p)[0]
                p += 8
                if find is not None and n <= 6 and not found and mm[p:p + n] in find:
                    found = True
                p += n
                if p > size:
                    raise ValueError("string past end of file")
            pos = p
            return found

        def take_value(vtype: int, key: str) -> Any:
            nonlocal pos
            if vtype in _SCALAR:
                return take(_SCALAR[vtype])
            if vtype == _STRING:
                return take_str().decode("utf-8", "replace")
            if vtype == _ARRAY:
                etype, count = take("<I"), take("<Q")
                if etype in _SCALAR:
                    pos += struct.calcsize(_SCALAR[etype]) * count
                    if pos > size:
                        raise ValueError("array past end of file")
                    return None
                if etype == _STRING:
                    if key == "tokenizer.ggml.tokens":
                        out["_n_vocab"] = count
                        out["_has_newline"] = skip_strings(count, _NEWLINE_TOKENS)
                    else:
                        skip_strings(count)
                    return None
                for _ in range(count):
                    take_value(etype, "")
                return None
            raise ValueError(f"unknown GGUF value type {vtype}")

        if mm[:4] != GGUF_MAGIC:
            raise ValueError("bad magic")
        pos = 4
        version, n_tensors, n_kv = take("<I"), take("<Q"), take("<Q")
        if version < 2 or n_tensors > 1_000_000 or n_kv > 1_000_000:
            raise ValueError(f"implausible header (version {version})")
        out: dict[str, Any] = {"_version": version}
        for _ in range(n_kv):
            key = take_str().decode("utf-8", "replace")
            vtype = take("<I")
            value = take_value(vtype, key)
            if key in keys or key.endswith(".context_length"):
                out["context_length" if key.endswith(".context_length") else key] = value
        ends = []
        n_params = 0
        for _ in range(n_tensors):
            take_str()
            n_dims = take("<I")
            if n_dims > 8:
                raise ValueError(f"tensor with {n_dims} dimensions")
            dims = [take("<Q") for _ in range(n_dims)]
            ttype, offset = take("<I"), take("<Q")
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ttype)]
            n_el = 1
            for d in dims:
                n_el *= d
            n_params += n_el
            ends.append(offset + n_el // block * type_size)
        align = int(out.get("general.alignment") or 32)
        data_start = (pos + align - 1) // align * align
        out["_tensor_end"] = data_start + max(ends, default=0)
        out["_n_tensors"] = n_tensors
        out["_n_params"] = n_params
        return out


# A byte-fallback tokenizer alone has 256 tokens; below 100 nothing real loads. A tokenizer
# exported with a 3-token vocabulary converts and quantizes fine, then aborts llama.cpp (an
# uncaught C++ exception takes the whole process down) while loading.
MIN_VOCAB = 100


def known_architectures() -> set[str]:
    import gguf

    return set(gguf.MODEL_ARCH_NAMES.values())


def architecture_problem(meta: dict[str, Any]) -> str:
    arch = meta.get("general.architecture")
    if arch and arch not in known_architectures():
        return f"unknown model architecture: {arch!r} (this llama.cpp cannot run it)"
    return ""


def vocabulary_problem(meta: dict[str, Any]) -> str:
    """Why llama.cpp would fail (or abort) on this vocabulary; '' when it looks loadable."""
    n_vocab = meta.get("_n_vocab")
    if n_vocab is None:
        return "no vocabulary (tokenizer.ggml.tokens is missing)"
    kind = meta.get("tokenizer.ggml.model", "")
    if kind in _NEWLINE_NEEDED and not meta.get("_has_newline"):
        return (f"broken vocabulary: {n_vocab} tokens and no newline token "
                f"{_NEWLINE_NEEDED[kind]!r} ({kind} tokenizer)")
    if n_vocab < MIN_VOCAB:
        return (f"broken vocabulary: {n_vocab} tokens, a language model has thousands "
                "(a broken tokenizer export?)")
    return ""


def inspect_gguf(path: str | Path) -> dict[str, Any]:
    """The file's metadata, or ModelLoadError (one line) for a file llama.cpp cannot load.

    Only the file itself is judged (not the memory free now), so a listing can show it.
    """
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"model file not found: {p}")
    if p.is_dir():
        raise ModelLoadError(f"model path is a folder, expected a .gguf file: {p}")
    try:
        with p.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file {p}: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelLoadError(f"not a GGUF model file (bad magic {magic!r}): {p}")
    size = p.stat().st_size
    try:
        meta = read_metadata(p)
    except Exception as exc:  # the reader raises many types on a damaged file
        raise ModelLoadError(f"corrupt or truncated GGUF file {p} ({type(exc).__name__})") from None
    if meta["_n_tensors"] == 0:
        raise ModelLoadError(f"GGUF file has no tensors: {p}")
    if meta["_tensor_end"] > size:
        raise ModelLoadError(
            f"truncated GGUF file {p}: {size:,} bytes on disk, {meta['_tensor_end']:,} expected"
        )
    if problem := architecture_problem(meta) or vocabulary_problem(meta):
        raise ModelLoadError(f"{problem}: {p}")
    return meta


def check_gguf(path: str | Path, *, n_ctx: int = 2048) -> dict[str, Any]:
    """Raise ModelLoadError with one clear line if ``path`` cannot be loaded now; else metadata."""
    p = Path(path)
    meta = inspect_gguf(p)
    size = p.stat().st_size
    avail = _mem_available_bytes()
    # Weights are mmapped but every page is touched during inference; add room for the KV
    # cache and compute buffers (a rough 10% + 256 MiB, generous for small contexts).
    need = int(size * 1.1) + (256 << 20)
    if avail is not None and need > avail:
        raise ModelLoadError(
            f"model {p.name} needs about {need / 2**30:.1f} GiB of memory, "
            f"only {avail / 2**30:.1f} GiB is available"
        )
    return meta
