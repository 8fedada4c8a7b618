"""Quantization type names <-> llama.cpp's ``LLAMA_FTYPE`` numbers.

The table is core/ftypes.py's, read from llama-cpp-python's own constants, so every type the
linked llama.cpp knows is accepted.
"""

from __future__ import annotations

from probllms_tui.core.errors import InputError
from probllms_tui.core.ftypes import llama_ftypes

DEFAULT_QUANTS = ("Q8_0", "Q4_K_M")
# The converter writes these itself; the quantizer is not involved.
FLOAT_TYPES = ("F16",)


def parse_quants(spec: str) -> tuple[list[str], bool]:
    """``"q8_0,q4_k_m,f16"`` -> (["Q8_0", "Q4_K_M"], keep_f16=True). Unknown names: InputError."""
    known = llama_ftypes()
    quants: list[str] = []
    keep_f16 = False
    for raw in spec.split(","):
        name = raw.strip().upper()
        if not name:
            continue
        if name in FLOAT_TYPES:
            keep_f16 = True
        elif name in known:
            if name not in quants:
                quants.append(name)
        else:
            choices = ", ".join(sorted(k.lower() for k in known))
            raise InputError(f"unknown quantization type {raw.strip()!r}; known: f16, {choices}")
    if not quants and not keep_f16:
        raise InputError("--quant names no quantization type")
    return quants, keep_f16
