"""What a finished run leaves for people and for `probllms-train export`: Table 1 (Markdown +
JSON), learning curves (PNG), metrics JSON, a model card and run.json."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from probllms_train.train.config import Recipe
from probllms_train.train.run_record import RunRecord


def last_logged(log_history: list[dict[str, Any]], key: str) -> tuple[float | None, int | None]:
    """The last value TRL logged for ``key`` during training, and its step."""
    for entry in reversed(log_history):
        if key in entry:
            return float(entry[key]), entry.get("step")
    return None, None


def table1(recipe: Recipe, test: dict[str, float], train: dict[str, float], step: int,
           log_history: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """One row in the recipe's Table 1 shape, with both train reward accuracies, named apart:

    - ``train_reward_accuracy_logged``: TRL's last logged ``rewards/accuracies`` (the mean over
      the last logging window's mini-batches, with the adapter of those steps): the number the
      progress report gives as its train accuracy;
    - ``train_reward_accuracy_rescored``: the final adapter scored again over up to
      ``data.train_eval_pairs`` train pairs after the last step (a steadier number: one adapter,
      more pairs).
    """
    logged, logged_step = last_logged(list(log_history), "rewards/accuracies")
    return {
        "recipe": recipe.name,
        "step": step,
        "eval_loss": test.get("test_loss"),
        "train_reward_accuracy_logged": logged,
        "train_reward_accuracy_logged_step": logged_step,
        "train_reward_accuracy_rescored": train.get("train_rewards/accuracies"),
        "test_reward_accuracy": test.get("test_rewards/accuracies"),
        "test_reward_margin": test.get("test_rewards/margins"),
        "train_pairs_scored": train.get("pairs"),
        "test_pairs_scored": test.get("pairs"),
    }


def table_markdown(row: dict[str, Any]) -> str:
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    return (
        "| Recipe | Step | Eval loss | Train reward accuracy (logged) | Train reward accuracy (re-scored) "
        "| Test reward accuracy |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"| {row['recipe']} | {row['step']} | {fmt(row['eval_loss'])} | {fmt(row['train_reward_accuracy_logged'])} "
        f"| {fmt(row['train_reward_accuracy_rescored'])} | {fmt(row['test_reward_accuracy'])} |\n\n"
        f"Logged: TRL's last logged training value (step {row['train_reward_accuracy_logged_step']}), the "
        "progress report's kind of train accuracy. Re-scored: the final adapter over "
        f"{row['train_pairs_scored']} training pairs after the last step. Test: the final adapter over "
        f"{row['test_pairs_scored']} held-out pairs (reference = base with the adapter off).\n"
    )


def curves(log_history: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        step = entry.get("step")
        for key in ("eval_rewards/accuracies", "rewards/accuracies", "eval_loss", "loss", "eval_rewards/margins"):
            if key in entry and step is not None:
                out.setdefault(key, []).append((int(step), float(entry[key])))
    return out


def plot_learning_curves(log_history: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = curves(log_history)
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("eval_rewards/accuracies", "eval (test pairs)"), ("rewards/accuracies", "train (logged)")):
        if series.get(key):
            steps, values = zip(*series[key])
            acc_ax.plot(steps, values, marker="o" if key.startswith("eval") else None, label=label)
    acc_ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    acc_ax.set(xlabel="step", ylabel="reward accuracy", ylim=(0, 1.02), title="Reward accuracy")
    acc_ax.legend()
    for key, label in (("eval_loss", "eval loss"), ("loss", "train loss")):
        if series.get(key):
            steps, values = zip(*series[key])
            loss_ax.plot(steps, values, marker="o" if key == "eval_loss" else None, label=label)
    loss_ax.set(xlabel="step", ylabel="DPO loss", title="Loss")
    loss_ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def model_card(recipe: Recipe, base: str, row: dict[str, Any]) -> str:
    return (
        f"---\nbase_model: {base}\nlibrary_name: peft\ntags: [dpo, lora, trl, probllms]\n---\n\n"
        f"# {recipe.name}: LoRA adapter trained with DPO\n\n{recipe.description}\n\n"
        f"- Base model: `{base}`\n"
        f"- LoRA: r={recipe.lora.r}, alpha={recipe.lora.alpha}, dropout={recipe.lora.dropout}, "
        f"targets={recipe.lora.target_modules}\n"
        f"- DPO: beta={recipe.dpo.beta}, loss={recipe.dpo.loss_type}, lr={recipe.dpo.learning_rate} "
        f"({recipe.dpo.lr_scheduler}, {recipe.dpo.warmup_steps} warmup steps), batch={recipe.dpo.batch_size}, "
        f"steps={recipe.dpo.max_steps}, seed={recipe.dpo.seed}\n"
        "- Prompt format: `probllms_tui.core.prompt.render_open_prompt` (the TUI's format)\n\n"
        f"## Results\n\n{table_markdown(row)}\n"
        "Files: `adapter/` (PEFT), `tokenizer/`, `recipe.yaml` (resolved), `metrics.json`, `table.md`, "
        "`table.json`, `learning_curve.png`, `tensorboard/`, `run.json`.\n"
        "Merge and convert with `probllms-train export <this folder>`.\n"
    )


def base_label(recipe: Recipe, base: str) -> str:
    """What a person calls the base model; ``base_model`` stays the folder export merges into.

    Why both: for a GGUF-sourced run that folder is a cache path
    (~/.local/share/probllms/hf-from-gguf/...), which told a student nothing on the Models screen.
    """
    m = recipe.model
    if m.source == "gguf":
        if m.gguf_file == "default":
            from probllms_tui.core.registry import default_entry

            entry = default_entry()
            return f"{entry.base_model} ({entry.name} GGUF)"
        return f"{Path(m.gguf_file).name} (GGUF)"
    if m.source == "tiny":
        return "tiny Llama (built from a config)"
    return base


def recorded_base(base: str, run_dir: Path) -> str:
    """A base model kept inside the run folder (a tiny run's base-model/) is recorded relative
    to it: a path relative to where training ran ("../runs/ok/base-model") broke `export`
    and `bench reward` from any other folder, and an absolute one breaks a moved run."""
    try:
        return Path(base).resolve().relative_to(run_dir.resolve()).as_posix()
    except (ValueError, OSError):
        return base


def run_record(recipe: Recipe, base: str, run_dir: Path, *, status: str, step: int,
               recipe_source: str) -> RunRecord:
    finished = status == "finished"
    return RunRecord(
        status=status, recipe=recipe.name, recipe_source=recipe_source, base_model=recorded_base(base, run_dir),
        base_model_label=base_label(recipe, base), model_source=recipe.model.source,
        adapter="adapter" if finished else None, tokenizer="tokenizer" if finished else None,
        final_step=step, max_steps=recipe.dpo.max_steps, beta=recipe.dpo.beta,
        updated=datetime.now(timezone.utc).isoformat(timespec="seconds"), run_dir=str(run_dir.resolve()),
    )
