"""`probllms-train train ...` and `probllms-train slurm ...`: thin commands over config/run/slurm.

Heavy imports (torch, transformers, trl) happen only after the recipe and data checked out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

train_app = typer.Typer(no_args_is_help=True, add_completion=False)
slurm_app = typer.Typer(no_args_is_help=True, add_completion=False)

_RECIPE = typer.Option(..., "--recipe", "-r", help="Recipe name (probllm-7b, student-only-7b, tiny-cpu, "
                                                   "gemma-270m-cpu) or a YAML path.")
_SET = typer.Option([], "--set", "-o", help="Override a recipe key, e.g. --set dpo.max_steps=20 (repeatable).")


def _log(message: str) -> None:
    typer.echo(message, err=True)


@train_app.command("dpo")
def dpo_command(
    recipe: str = _RECIPE,
    output: Optional[Path] = typer.Option(None, "--output", help="Run folder (default runs/<recipe>-<timestamp>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the folder's last checkpoint "
                                "(automatic when one exists)."),
    overrides: list[str] = _SET,
) -> None:
    """DPO + LoRA from a YAML recipe; writes adapter, Table 1, curves and run.json to one folder."""
    from probllms_train.train.config import load_recipe
    from probllms_train.train.run import run_dpo

    if resume and output is None:
        from probllms_tui.core.errors import InputError

        raise InputError("--resume needs --output, the run folder to continue")
    resolved, path = load_recipe(recipe, overrides)
    result = run_dpo(resolved, str(path), output, resume=resume, log=_log)
    typer.echo(f"{result.status} at step {result.step} in {result.seconds:.0f} s: {result.run_dir}")


@train_app.command("recipes")
def recipes_command() -> None:
    """List the packaged recipes."""
    from probllms_train.train.config import RECIPES_DIR, recipe_names

    for name in recipe_names():
        text = (RECIPES_DIR / f"{name}.yaml").read_text()
        description = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                            if line.startswith("description:")), "")
        typer.echo(f"{name:18} {description}")


@train_app.command("show")
def show_command(recipe: str = _RECIPE, overrides: list[str] = _SET) -> None:
    """Print the resolved recipe (inheritance and overrides applied); data files not built yet are listed."""
    from probllms_train.train.config import load_recipe

    # Reading a recipe must not wait for its data: the 7B recipes name files that only
    # `probllms-train data preference` creates. Keys and values are still validated.
    missing: list[str] = []
    resolved, _ = load_recipe(recipe, overrides, check_files=False, missing=missing)
    typer.echo(resolved.to_yaml(), nl=False)
    for item in missing:
        _log(f"note: {item} does not exist yet (build it with `probllms-train data preference`); "
             "`train dpo` needs it")


@slurm_app.command("submit")
def submit_command(
    recipe: str = _RECIPE,
    gpus: int = typer.Option(1, "--gpus", help="GPUs on one node."),
    time: str = typer.Option("24:00:00", "--time", help="Slurm wall time per allocation."),
    output: Optional[str] = typer.Option(None, "--output", help="Run folder (fixed here so requeues resume it)."),
    strategy: str = typer.Option("ddp", "--strategy", help="ddp | zero2 | zero3 (accelerate configs)."),
    partition: Optional[str] = typer.Option(None, "--partition"),
    account: Optional[str] = typer.Option(None, "--account"),
    venv: Optional[str] = typer.Option(None, "--venv", help="Virtual environment to activate in the job."),
    overrides: list[str] = _SET,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the sbatch script, submit nothing."),
) -> None:
    """Write an sbatch script (requeue on preemption, resume) and submit it with sbatch."""
    from probllms_train.train.config import load_recipe
    from probllms_train.train.run import default_output
    from probllms_train.train.slurm import SlurmJob, sbatch_script, submit

    # validate the recipe's keys now; the data may only exist on the cluster, so a missing
    # file is reported by the job itself rather than blocking the submission here
    from probllms_tui.core.errors import InputError

    try:
        resolved, _ = load_recipe(recipe, overrides)
        name = resolved.name
    except InputError as exc:
        if "file not found" not in str(exc):
            raise
        name = Path(recipe).stem
    out = output or str(default_output(name))
    job = SlurmJob(recipe=recipe, output=out, gpus=gpus, time=time, strategy=strategy, partition=partition,
                   account=account, overrides=tuple(overrides), venv=venv)
    script = sbatch_script(job)
    if dry_run:
        typer.echo(script, nl=False)
        return
    typer.echo(submit(script, Path(out)))

