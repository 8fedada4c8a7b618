"""The base model a recipe adapts: a hub/local HF folder, the tiny model, or a GGUF file.

Every source ends as a plain HF folder on disk (``base_dir``), because `probllms-train export`
merges the adapter into exactly that folder later: run.json records it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from probllms_tui.core.errors import ModelLoadError

from probllms_train.train.config import ModelSection

_DTYPES = {"bfloat16": "bfloat16", "float16": "float16", "float32": "float32", "auto": "auto"}


def _gguf_path(model: ModelSection) -> Path:
    if model.gguf_file == "default":
        from probllms_tui.core.registry import default_model_path

        return default_model_path()
    return Path(model.gguf_file)


def gguf_cache_dir(gguf: Path) -> Path:
    from probllms_tui.core.paths import data_dir

    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return data_dir() / "hf-from-gguf" / f"{gguf.stem}-{key}"


def convert_gguf_once(gguf: Path, log=print) -> Path:
    """Dequantize a GGUF into a savable fp32 HF folder, once; later runs reuse the cache.

    transformers loads GGUF but refuses ``save_pretrained`` on that model ("quantized with
    gguf"), so a fresh model is built from its config and given its state_dict.
    """
    out = gguf_cache_dir(gguf)
    if (out / "done.json").is_file():
        _drop_gguf_quantization(out / "config.json")
        _keep_sentencepiece_vocab(gguf, out)  # caches written before this step existed
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    log(f"converting {gguf.name} to an HF folder once (about a minute), cache: {out}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:  # transformers raises many types for an unsupported GGUF
        raise ModelLoadError(f"transformers cannot load {gguf}: {exc}") from None
    fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    tmp = out.with_name(out.name + ".tmp")
    fresh.save_pretrained(tmp)
    _drop_gguf_quantization(tmp / "config.json")
    tokenizer.save_pretrained(tmp)
    _keep_sentencepiece_vocab(gguf, tmp)
    (tmp / "done.json").write_text(json.dumps({"gguf": str(gguf), "seconds": round(time.monotonic() - started, 1)}))
    if out.exists():  # a half-written earlier attempt
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


def _keep_sentencepiece_vocab(gguf: Path, hf_dir: Path) -> None:
    """Give the HF folder the GGUF's own SentencePiece vocabulary (``tokenizer.model``).

    Why: the run's base folder is what `probllms-train export` merges into and converts back
    to GGUF; from transformers' rebuilt ``tokenizer.json`` alone the converter writes a
    GPT-2 style vocabulary that tokenizes differently from the model that was trained
    (export/gguf_vocab.py). Only SentencePiece ("llama" tokenizer) GGUFs such as Gemma's.
    """
    if (hf_dir / "tokenizer.model").is_file():
        return
    from probllms_train.export.gguf_vocab import write_sentencepiece_model  # checks the kind itself

    write_sentencepiece_model(gguf, hf_dir)


def _drop_gguf_quantization(config_path: Path) -> None:
    """The dequantized weights are plain fp32, but the config still says "quantized with gguf",
    and the Trainer refuses to train such a model: remove that stale note."""
    config = json.loads(config_path.read_text())
    if "quantization_config" in config:
        del config["quantization_config"]
        config_path.write_text(json.dumps(config, indent=2))


def prepare_base(model: ModelSection, run_dir: Path, *, seed: int, log=print) -> str:
    """Return the HF folder or hub id that holds the base model for this run."""
    if model.source == "tiny":
        from probllms_train.tiny_model import build_tiny_model

        base = run_dir / "base-model"  # 0.5 MB: the run folder stays self-contained
        if not (base / "config.json").is_file():
            build_tiny_model(base, seed=seed)
        return str(base)
    if model.source == "gguf":
        return str(convert_gguf_once(_gguf_path(model), log=log))
    return model.name_or_path


def load_base(base: str, model: ModelSection):
    """Model and tokenizer (with a pad token) from ``base``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
        kwargs = {"dtype": getattr(torch, _DTYPES[model.dtype]) if model.dtype != "auto" else "auto"}
        if model.attn_implementation:
            kwargs["attn_implementation"] = model.attn_implementation
        lm = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    except OSError as exc:
        raise ModelLoadError(f"cannot load base model {base!r}: {str(exc).splitlines()[0]}") from None
    if tokenizer.pad_token is None:  # DPO pads chosen/rejected batches; eos is the usual stand-in
        tokenizer.pad_token = tokenizer.eos_token
    return lm, tokenizer
