"""Recipe checks happen before any model loads; the Slurm script is what a cluster accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from probllms_tui.core.errors import InputError
from probllms_train.train.config import load_recipe, recipe_names
from probllms_train.train.slurm import SlurmJob, sbatch_script


def test_every_packaged_recipe_validates_and_7b_keeps_the_paper_defaults(tmp_path, monkeypatch):
    assert {"probllm-7b", "student-only-7b", "tiny-cpu", "gemma-270m-cpu"} <= set(recipe_names())
    data = tmp_path / "data" / "preference"
    data.mkdir(parents=True)
    for name in ("train.jsonl", "student_train.jsonl", "test.jsonl"):
        (data / name).write_text('{"prompt": "Q?", "chosen": "yes", "rejected": "no", "source": "student"}\n')
    monkeypatch.chdir(tmp_path)  # the 7B recipes read data/preference/*.jsonl from the working dir
    full, _ = load_recipe("probllm-7b")
    student, _ = load_recipe("student-only-7b")
    assert (full.lora.r, full.lora.alpha, full.lora.dropout) == (8, 16, 0.05)
    d = full.dpo
    assert (d.beta, d.learning_rate, d.lr_scheduler, d.warmup_steps, d.weight_decay, d.max_grad_norm) == \
        (0.05, 5e-4, "cosine", 100, 0.05, 1.0)
    assert (d.batch_size, d.max_steps, d.bf16, d.optim, d.seed, d.eval_steps) == \
        (8, 2000, True, "paged_adamw_32bit", 0, 100)
    assert full.model.name_or_path == "deepseek-ai/deepseek-math-7b-rl"
    # student-only differs in the training rows only: same hyperparameters, same test file
    assert student.dpo == full.dpo and student.lora == full.lora and student.data.test == full.data.test
    assert student.data.train.endswith("student_train.jsonl") and full.data.train.endswith("/train.jsonl")
    tiny, _ = load_recipe("tiny-cpu")
    assert (tiny.dpo.bf16, tiny.dpo.optim, tiny.model.source) == (False, "adamw_torch", "tiny")


@pytest.mark.parametrize("override, message", [
    (["dpo.max_stepz=3"], "dpo.max_stepz: unknown key"),
    (["dpo.max_steps=many"], "dpo.max_steps: "),
    (["lora.r=0"], "lora.r: "),
    (["data.train=/nonexistent/pairs.jsonl"], "data.train: file not found"),
    (["model.source=hf", "model.name_or_path=null"], "model.name_or_path is required"),
    (["nonsense"], "is not key=value"),
])
def test_bad_recipe_values_name_the_key(override, message):
    with pytest.raises(InputError, match=message.replace("?", r"\?")):
        load_recipe("tiny-cpu", override)


def test_malformed_recipe_file_is_one_line_exit_2_before_any_model_loads(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inherit: tiny-cpu\ndpo:\n  beta: 0.1\n  batchsize: 8\n")
    done = subprocess.run([sys.executable, "-m", "probllms_train.cli", "train", "dpo", "--recipe", str(bad),
                           "--output", str(tmp_path / "run")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [f"error: {bad}: dpo.batchsize: unknown key"]
    assert not (tmp_path / "run").exists()  # nothing written, nothing loaded


def test_bad_yaml_and_bad_data_rows_point_at_the_line(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nmodel: [unclosed\n")
    with pytest.raises(InputError, match=r"broken.yaml:\d+: not valid YAML"):
        load_recipe(str(broken))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "Q?", "chosen": "a", "rejected": "b"}\n{"prompt": "Q2?", "chosen": "a"}\n')
    from probllms_train.train.data import read_pairs

    with pytest.raises(InputError, match=r"pairs.jsonl:2: missing or empty 'rejected'"):
        read_pairs(pairs)


def test_pairs_are_rendered_with_the_serving_prompt_format(tmp_path):
    from probllms_tui.core.prompt import render_open_prompt, response_text
    from probllms_train.train.data import load_splits, read_pairs

    raw = tmp_path / "raw.jsonl"
    rendered = render_open_prompt("What is 2 plus 2?")
    rows = [{"prompt": "What is 2 plus 2?", "chosen": "4", "rejected": "5"},
            {"prompt": rendered, "chosen": " 4", "rejected": " 5"}]
    raw.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = read_pairs(raw)
    assert [p.prompt for p in pairs] == [rendered, rendered]  # raw text rendered once, rendered text untouched
    assert pairs[0].chosen == response_text("4") == pairs[1].chosen
    recipe, _ = load_recipe("tiny-cpu")
    train, test = load_splits(recipe.data)
    assert train and test and not {p.prompt for p in train} & {p.prompt for p in test}


def test_slurm_dry_run_prints_a_requeueing_resuming_script(tmp_path):
    done = subprocess.run([sys.executable, "-m", "probllms_train.cli", "slurm", "submit", "--recipe", "probllm-7b",
                           "--gpus", "4", "--time", "1-00:00:00", "--output", "runs/p7b", "--strategy", "zero2",
                           "--set", "dpo.per_device_batch_size=1", "--dry-run"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    script = done.stdout
    assert script.startswith("#!/bin/bash\n")
    for line in ("#SBATCH --requeue", "#SBATCH --signal=B:TERM@120", "#SBATCH --gpus=4",
                 "#SBATCH --time=1-00:00:00", "#SBATCH --output=runs/p7b/slurm-%j.log"):
        assert line in script
    assert "accelerate launch --config_file" in script and "zero2.yaml" in script
    assert "--num_processes 4" in script
    assert "train dpo --recipe probllm-7b --output runs/p7b --resume --set dpo.per_device_batch_size=1" in script
    assert "scontrol requeue" in script and "trap on_term TERM" in script
    assert not (tmp_path / "runs").exists()  # dry run writes nothing
    bash = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert bash.returncode == 0, bash.stderr


def test_slurm_rejects_a_bad_time():
    with pytest.raises(InputError, match="--time"):
        sbatch_script(SlurmJob(recipe="tiny-cpu", output="runs/x", time="tomorrow"))
    assert Path(sbatch_script(SlurmJob(recipe="tiny-cpu", output="runs/x")).split("--config_file ")[1]
                .split()[0]).is_file()


def test_a_recipe_in_the_students_folder_inherits_the_data_paths_of_its_parent(tmp_path, monkeypatch):
    """`inherit: tiny-cpu` from /tmp looked for the parent's fixtures/ next to the child."""
    from probllms_train.train.config import load_recipe

    child = tmp_path / "mine.yaml"
    child.write_text("inherit: tiny-cpu\ndpo:\n  max_steps: 2\n")
    monkeypatch.chdir(tmp_path)
    recipe, _ = load_recipe(str(child))
    assert Path(recipe.data.train).is_file() and recipe.dpo.max_steps == 2
