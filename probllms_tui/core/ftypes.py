"""GGUF file types: llama.cpp's ``LLAMA_FTYPE`` numbers <-> the names people use (Q4_K_M...).

One table for the registry, model discovery and the exporter, read from llama-cpp-python's own
constants so every type the linked llama.cpp knows has its name. llama_cpp is imported on first
use, never on the app's first-frame path.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def llama_ftypes() -> dict[str, int]:
    """{"F32": 0, "F16": 1, "Q4_K_M": 15, ...}: every file type llama-cpp-python exposes."""
    import llama_cpp

    out: dict[str, int] = {}
    for attr in dir(llama_cpp):
        for prefix in ("LLAMA_FTYPE_MOSTLY_", "LLAMA_FTYPE_ALL_"):
            if attr.startswith(prefix):
                out[attr.removeprefix(prefix)] = int(getattr(llama_cpp, attr))
    out.pop("GUESSED", None)
    return out


def ftype_name(ftype: object) -> str:
    """The name of a GGUF's ``general.file_type``; '' when absent, the number when unknown."""
    if ftype is None:
        return ""
    try:
        number = int(ftype)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(ftype)
    names = {v: k for k, v in llama_ftypes().items()}
    return names.get(number, str(number))
