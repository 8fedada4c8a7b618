"""Recipe points of the progress report: reading a recipe before its data exists, the small-model
baseline, and the LoRA target modules (the report is silent; the recipe says what it picked)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from probllms_train.train.config import load_recipe


def _train_cli(*args, cwd):
    return subprocess.run([sys.executable, "-c", "from probllms_train.cli import run; run()", "train", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_train_show_works_before_any_data_exists(tmp_path):
    # docs/training.md's first command, in a folder where data/preference/ was never built
    proc = _train_cli("show", "--recipe", "probllm-7b", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "name: probllm-7b" in proc.stdout and "deepseek-ai/deepseek-math-7b-rl" in proc.stdout
    assert "data.train: data/preference/train.jsonl does not exist yet" in proc.stderr
    # a bad key is still an error, one line, exit 2
    bad = _train_cli("show", "--recipe", "probllm-7b", "--set", "dpo.batchsize=3", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "dpo.batchsize" in bad.stderr


def test_small_baseline_differs_from_the_7b_only_in_the_model():
    big, _ = load_recipe("probllm-7b", check_files=False)
    small, _ = load_recipe("small-baseline-1.5b", check_files=False)
    assert small.model.name_or_path == "Qwen/Qwen2.5-1.5B-Instruct" and small.model.dtype == "bfloat16"
    assert small.lora == big.lora and small.dpo == big.dpo and small.data == big.data
    assert small.logging == big.logging


def _lora_trainable(target_modules) -> int:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    # DeepSeekMath-7B's shape scaled down 32x (hidden 4096 -> 128, MLP 11008 -> 344, same ratio):
    # LoRA's parameter count per layer is linear in the widths, so the ratio carries over.
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=128, intermediate_size=344, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=4, vocab_size=64)
    model = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(r=8, lora_alpha=16, target_modules=target_modules,
                                                             task_type="CAUSAL_LM"))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_all_linear_is_about_5x_the_q_v_default_and_one_override_away():
    recipe, _ = load_recipe("probllm-7b", check_files=False)
    assert recipe.lora.target_modules == "all-linear"
    qv, _ = load_recipe("probllm-7b", ["lora.target_modules=[q_proj, v_proj]"], check_files=False)
    assert qv.lora.target_modules == ["q_proj", "v_proj"]
    ratio = _lora_trainable("all-linear") / _lora_trainable(["q_proj", "v_proj"])
    assert ratio == pytest.approx((8 * 4096 + 3 * (4096 + 11008)) / (4 * 4096), rel=1e-6)  # 4.77
    # and the 7B figure the recipe and docs quote: 18.7 M vs 3.9 M over 30 layers
    assert round(30 * 8 * (8 * 4096 + 3 * (4096 + 11008)) / 1e6, 1) == 18.7
    assert round(30 * 8 * 4 * 4096 / 1e6, 1) == 3.9
