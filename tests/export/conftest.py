"""Shared, expensive fixtures for the export tests: one tiny model, one LoRA run, one export."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SMALL_BANK = HERE / "mcq_small.jsonl"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from probllms_train.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama", seed=0)


@pytest.fixture(scope="session")
def lora_run_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A run folder as `probllms-train train` writes it (run.json with status, adapter and
    tokenizer folders) holding a PEFT adapter whose B matrices are random
    (init_lora_weights=False), so merging it must change the model's outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    run = tmp_path_factory.mktemp("runs") / "tiny-dpo-run"
    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    cfg = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj", "down_proj"],
                     init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(base, cfg).save_pretrained(run / "adapter")
    shutil.copytree(tiny_model_dir, run / "tokenizer",
                    ignore=lambda d, names: [n for n in names if not n.startswith("tokenizer")])
    from probllms_train.train.run_record import RunRecord

    RunRecord(status="finished", recipe="tiny-cpu", base_model=str(tiny_model_dir),
              adapter="adapter", tokenizer="tokenizer", final_step=0).save(run)
    return run


@pytest.fixture(scope="session")
def tiny_export(tiny_model_dir, tmp_path_factory):
    """The tiny model exported to F16 (kept), Q8_0 and Q4_K_M with a quality report."""
    from probllms_train.export.pipeline import ExportOptions, run_export

    models = tmp_path_factory.mktemp("models-export")
    result = run_export(ExportOptions(source=str(tiny_model_dir), models_dir=models, keep_f16=True,
                                      name="tiny", data=SMALL_BANK), log=lambda m: None)
    return models, result


@pytest.fixture
def models_dir(tmp_path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    return d

