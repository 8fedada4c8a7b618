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


def read_metadata(path: Path, keys: tuple[str, ...] = ("general.architecture", "general.name",
                  "general.file_type", "general.basename", "general.alignment")) -> dict[str, Any]:
    """Read chosen header keys and where the tensor data ends, without loading the model.

    Why not ``gguf.GGUFReader``: it decodes every array (Gemma's 262k-token vocabulary) into
    numpy objects and took 14 s on the default model; this walk skips arrays and takes
    well under a second. Tensor sizes use the ``gguf`` package's own block-size table.
    """
    import mmap
    import struct

    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = 0

        def take(fmt: str) -> Any:
            nonlocal pos
            v = struct.unpack_from(fmt, mm, pos)[0]
            pos += struct.calcsize(fmt)
            return v

        def take_str() -> bytes:
            nonlocal pos
            n = take("<Q")
            if pos + n > len(mm):
                raise ValueError("string past end of file")
            b = mm[pos:pos + n]
            pos += n
            return b

        def take_value(vtype: int, keep: bool) -> Any:
            nonlocal pos
            if vtype in _SCALAR:
                return take(_SCALAR[vtype])
            if vtype == _STRING:
                return take_str().decode("utf-8", "replace")
            if vtype == _ARRAY:
                etype, count = take("<I"), take("<Q")
                if etype in _SCALAR:
                    pos += struct.calcsize(_SCALAR[etype]) * count
                    return None
                for _ in range(count):
                    take_value(etype, False)
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
            value = take_value(vtype, True)
            if key in keys or key.endswith(".context_length"):
                out["context_length" if key.endswith(".context_length") else key] = value
        ends = []
        for _ in range(n_tensors):
            take_str()
            n_dims = take("<I")
            dims = [take("<Q") for _ in range(n_dims)]
            ttype, offset = take("<I"), take("<Q")
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ttype)]
            n_el = 1
            for d in dims:
                n_el *= d
            ends.append(offset + n_el // block * type_size)
        align = int(out.get("general.alignment") or 32)
        data_start = (pos + align - 1) // align * align
        out["_tensor_end"] = data_start + max(ends, default=0)
        out["_n_tensors"] = n_tensors
        return out


def check_gguf(path: str | Path, *, n_ctx: int = 2048) -> dict[str, Any]:
    """Raise ModelLoadError with one clear line if ``path`` cannot be loaded; else metadata."""
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
