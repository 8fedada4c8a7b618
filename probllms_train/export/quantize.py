"""F16 GGUF -> quantized GGUF with llama.cpp's quantizer, in-process via llama-cpp-python.

The optional importance matrix is what ``llama-imatrix`` computes — for every weight matrix,
the mean squared activation of each input column over calibration text — measured here with
PyTorch forward hooks on the merged HF model (llama-cpp-python exposes no imatrix tool, but
its quantizer accepts the data as ``llama_model_imatrix_data`` entries, as ``llama-quantize
--imatrix`` hands them over). The calibration text is the project's own MCQ prompts.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from probllms_tui.core.errors import ProbLLMsError
from probllms_tui.core.ftypes import llama_ftypes

_LOG_LINES: list[str] = []
_LOG_CALLBACK = None


def _capture_llama_logs() -> None:
    """Keep llama.cpp's quantizer chatter off the terminal but keep it for error messages."""
    global _LOG_CALLBACK
    import llama_cpp

    if _LOG_CALLBACK is None:
        @llama_cpp.llama_log_callback
        def _cb(level, text, user_data):  # noqa: ARG001
            _LOG_LINES.append(text.decode("utf-8", "replace"))
            del _LOG_LINES[:-50]

        _LOG_CALLBACK = _cb  # ctypes callbacks must outlive their registration
    llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


class QuantizeError(ProbLLMsError):
    pass


def quantize(src: Path, dst: Path, qtype: str, *, imatrix: dict[str, np.ndarray] | None = None,
             threads: int = 0) -> Path:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_ftypes()[qtype]
    params.nthread = threads
    keep_alive = []
    if imatrix:
        entries = (llama_cpp.llama_model_imatrix_data * (len(imatrix) + 1))()
        for i, (name, values) in enumerate(sorted(imatrix.items())):
            arr = np.ascontiguousarray(values, dtype=np.float32)
            name_b = name.encode()
            keep_alive += [arr, name_b]
            entries[i].name = name_b
            entries[i].data = arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            entries[i].size = arr.size
        entries[len(imatrix)].name = None  # the array ends with a null name, as llama.h asks
        keep_alive.append(entries)
        params.imatrix = ctypes.cast(entries, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
    _capture_llama_logs()
    _LOG_LINES.clear()
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        last = " ".join(l.strip() for l in _LOG_LINES[-3:] if l.strip())
        raise QuantizeError(f"llama.cpp could not quantize to {qtype}: {last or f'return code {rc}'}")
    return dst


def compute_imatrix(model, tokenizer, texts: Sequence[str], *, arch_class, n_layers: int,
                    max_tokens: int = 512) -> dict[str, np.ndarray]:
    """Mean squared input activation per column of every linear layer, keyed by GGUF name.

    ``arch_class`` is the converter's model class (for its ``model_arch``); names are mapped
    with the converter's own HF -> GGUF tensor-name table. The output head is skipped, as
    ``llama-imatrix`` does by default.
    """
    import gguf
    import torch

    name_map = gguf.get_tensor_name_map(arch_class.model_arch, n_layers)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    hooks = []

    def hook_for(gguf_name: str):
        def hook(module, inputs, output):  # noqa: ARG001
            x = inputs[0].detach().float().reshape(-1, inputs[0].shape[-1])
            sums[gguf_name] = sums.get(gguf_name, 0) + (x * x).sum(0)
            counts[gguf_name] = counts.get(gguf_name, 0) + x.shape[0]
        return hook

    for hf_name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or hf_name.endswith("lm_head"):
            continue
        gguf_name = name_map.get_name(hf_name + ".weight", try_suffixes=(".weight",))
        if gguf_name:
            hooks.append(module.register_forward_hook(hook_for(gguf_name)))
    try:
        model.eval()
        with torch.inference_mode():
            for text in texts:
                ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)
                model(input_ids=ids["input_ids"])
    finally:
        for h in hooks:
            h.remove()
    return {name: (sums[name] / counts[name]).cpu().numpy() for name in sums}
