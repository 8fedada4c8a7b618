"""One DPO + LoRA run, from a validated recipe to a finished run folder.

Order matters: everything that can be wrong with the user's input (recipe, data, batch
arithmetic, an output folder that already holds finished results) is checked before the
first model byte loads. The reference model is the base with the adapter switched off (TRL
does this when ``ref_model=None`` and a PEFT config is given): never a second copy.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from probllms_tui.core.files import atomic_write_json
from probllms_tui.core.errors import InputError

from probllms_train.train.config import Recipe
from probllms_train.train.data import PreferencePair, load_splits
from probllms_train.train.report import (
    model_card, plot_learning_curves, run_record, table1, table_markdown,
)


@dataclass
class RunResult:
    run_dir: Path
    status: str  # "finished" | "preempted"
    step: int
    table: dict | None = None
    seconds: float = 0.0


def default_output(recipe_name: str) -> Path:
    return Path("runs") / f"{recipe_name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _first_difference(a: dict, b: dict, prefix: str = "") -> str | None:
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            found = _first_difference(va, vb, f"{prefix}{key}.")
            if found:
                return found
        elif va != vb:
            return f"{prefix}{key} ({va!r} in the run folder, {vb!r} now)"
    return None


def _batch_plan(recipe: Recipe) -> tuple[int, int]:
    """(per-device batch, gradient accumulation) so that the global batch is the recipe's."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_device = recipe.dpo.per_device_batch_size or recipe.dpo.batch_size
    accumulation, rest = divmod(recipe.dpo.batch_size, per_device * world)
    if rest or accumulation == 0:
        raise InputError(f"dpo.batch_size={recipe.dpo.batch_size} is not a multiple of "
                         f"dpo.per_device_batch_size={per_device} x {world} processes")
    return per_device, accumulation


def check_output(run_dir: Path, recipe: Recipe) -> None:
    """Refuse to touch finished results or to resume a run with a different recipe."""
    from probllms_train.train.resume import last_complete_checkpoint
    from probllms_train.train.run_record import RunRecord

    if run_dir.exists() and not run_dir.is_dir():
        raise InputError("a file is there; --output is a folder", where=str(run_dir))
    if RunRecord.exists(run_dir):
        if RunRecord.load(run_dir).status == "finished":
            raise InputError("this run already finished; its results are kept (choose another --output)",
                             where=str(run_dir))
    saved = run_dir / "recipe.yaml"
    # Only a checkpoint makes a recipe binding: a start that failed before its first one (a
    # model path mistyped) leaves recipe.yaml alone, and the corrected recipe may use the
    # folder (Slurm scripts keep one fixed --output).
    if saved.is_file() and last_complete_checkpoint(run_dir / "checkpoints"):
        diff = _first_difference(yaml.safe_load(saved.read_text()), recipe.model_dump(mode="json"))
        if diff:
            raise InputError(f"cannot resume with a different recipe: {diff}", where=str(saved))


def _dpo_args(recipe: Recipe, run_dir: Path):
    from trl import DPOConfig

    per_device, accumulation = _batch_plan(recipe)
    d = recipe.dpo
    report_to = list(recipe.logging.report_to)
    return DPOConfig(
        output_dir=str(run_dir / "checkpoints"),
        beta=d.beta, loss_type=[d.loss_type], learning_rate=d.learning_rate, lr_scheduler_type=d.lr_scheduler,
        warmup_steps=d.warmup_steps, weight_decay=d.weight_decay, max_grad_norm=d.max_grad_norm,
        per_device_train_batch_size=per_device, gradient_accumulation_steps=accumulation,
        per_device_eval_batch_size=d.eval_batch_size, max_steps=d.max_steps, bf16=d.bf16, fp16=False,
        optim=d.optim, seed=d.seed, data_seed=d.seed, eval_strategy="steps", eval_steps=d.eval_steps,
        save_strategy="steps", save_steps=d.save_steps, save_total_limit=d.save_total_limit,
        max_length=d.max_length, gradient_checkpointing=d.gradient_checkpointing,
        precompute_ref_log_probs=d.precompute_ref_log_probs,
        logging_steps=recipe.logging.logging_steps, logging_first_step=True,
        report_to=report_to or "none", project=recipe.logging.project, run_name=run_dir.name,
        dataset_num_proc=None, dataloader_num_workers=0, disable_tqdm=True,
        dataloader_pin_memory=_has_cuda(),
    )


def _final_metrics(trainer, dataset, prefix: str) -> dict[str, float]:
    """Score ``dataset`` with the final adapter; TRL logs its DPO metrics under ``eval_``."""
    from probllms_train.train.resume import LogLineCallback

    line = next((c for c in trainer.callback_handler.callbacks if isinstance(c, LogLineCallback)), None)
    if line is not None:
        line.scoring = f"{len(dataset)} {prefix} pairs"
    # TRL averages its per-batch means without weights, so a short last batch counts as much
    # as a full one (10 pairs in batches of 8: mean(7/8, 2/2) = 0.9375 for 9/10 = 0.900).
    # Batches of equal size make that mean the pairs' own.
    configured = trainer.args.per_device_eval_batch_size
    trainer.args.per_device_eval_batch_size = even_batch_size(len(dataset), configured)
    try:
        raw = trainer.evaluate(eval_dataset=dataset, metric_key_prefix=prefix)
    finally:
        trainer.args.per_device_eval_batch_size = configured
        if line is not None:
            line.scoring = None
    out = {f"{prefix}_{k[len('eval_'):]}" if k.startswith("eval_") else k: v for k, v in raw.items()}
    out["pairs"] = len(dataset)
    return out


def even_batch_size(n: int, largest: int) -> int:
    """The largest batch size up to ``largest`` that splits ``n`` items into equal batches."""
    return next(b for b in range(max(1, min(largest, n)), 0, -1) if n % b == 0)


def _eval_at(history: list[dict], step: int, prefix: str, pairs: int) -> dict[str, float] | None:
    """The periodic evaluation already scored the test pairs at the final step: reuse it."""
    for entry in reversed(history):
        if entry.get("step") == step and "eval_loss" in entry:
            out = {f"{prefix}_{k[len('eval_'):]}": v for k, v in entry.items() if k.startswith("eval_")}
            return {**out, "pairs": pairs}
    return None


def run_dpo(recipe: Recipe, recipe_source: str, output: Path | None = None, *, resume: bool = False,
            log=print) -> RunResult:
    started = time.monotonic()
    run_dir = Path(output) if output else default_output(recipe.name)
    check_output(run_dir, recipe)
    _batch_plan(recipe)
    train_pairs, test_pairs = load_splits(recipe.data)

    from probllms_train.train.resume import last_complete_checkpoint

    checkpoint = last_complete_checkpoint(run_dir / "checkpoints")
    if checkpoint:
        log(f"resuming from {checkpoint}" + ("" if resume else " (found in the output folder)"))
    elif resume:
        log(f"no checkpoint in {run_dir}: starting from step 0")
    run_dir.mkdir(parents=True, exist_ok=True)
    if _is_main_process() and not (run_dir / "recipe.yaml").is_file():
        (run_dir / "recipe.yaml").write_text(recipe.to_yaml(), encoding="utf-8")
    log(f"run folder: {run_dir}  ({len(train_pairs)} train / {len(test_pairs)} test pairs)")
    return _train(recipe, recipe_source, run_dir, train_pairs, test_pairs, checkpoint, started, log)


def _train(recipe: Recipe, recipe_source: str, run_dir: Path, train_pairs: list[PreferencePair],
           test_pairs: list[PreferencePair], checkpoint: Path | None, started: float, log) -> RunResult:
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "tensorboard")
    if "wandb" in recipe.logging.report_to:
        os.environ.setdefault("WANDB_PROJECT", recipe.logging.project)
    import datasets
    from peft import LoraConfig
    from transformers import PrinterCallback, set_seed
    from trl import DPOTrainer

    from probllms_train.train.data import to_dataset
    from probllms_train.train.model import load_base, prepare_base
    from probllms_train.train.resume import LogLineCallback, PreemptionCallback

    datasets.disable_progress_bars()
    preemption = PreemptionCallback()  # installed before the slow loads: a TERM then still saves cleanly
    set_seed(recipe.dpo.seed)
    cache = Path(recipe.data.cache_dir) if recipe.data.cache_dir else run_dir.parent / ".cache"
    train_ds, test_ds = to_dataset(train_pairs, cache), to_dataset(test_pairs, cache)
    base = prepare_base(recipe.model, run_dir, seed=recipe.dpo.seed, log=log)
    model, tokenizer = load_base(base, recipe.model)
    lora = LoraConfig(r=recipe.lora.r, lora_alpha=recipe.lora.alpha, lora_dropout=recipe.lora.dropout,
                      target_modules=recipe.lora.target_modules, task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=model, ref_model=None, args=_dpo_args(recipe, run_dir), train_dataset=train_ds,
                         eval_dataset=test_ds, processing_class=tokenizer, peft_config=lora,
                         callbacks=[preemption, LogLineCallback(log)])
    trainer.remove_callback(PrinterCallback)
    if trainer.is_world_process_zero():
        run_record(recipe, base, run_dir, status="running", step=trainer.state.global_step,
                   recipe_source=recipe_source).save(run_dir)
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        preemption.restore()
    step = trainer.state.global_step
    main = trainer.is_world_process_zero()
    if preemption.requested and step < recipe.dpo.max_steps:
        if main:
            run_record(recipe, base, run_dir, status="preempted", step=step,
                       recipe_source=recipe_source).save(run_dir)
        log(f"{preemption.signal_name}: checkpoint saved at step {step}/{recipe.dpo.max_steps}; "
            "run the same command with --resume to continue")
        return RunResult(run_dir, "preempted", step, seconds=time.monotonic() - started)

    history = list(trainer.state.log_history)  # before the final scoring passes add to it
    # The periodic evaluation's numbers are the pairs' own only when its batches were equal.
    evenly = len(test_ds) % trainer.args.per_device_eval_batch_size == 0
    test = (evenly and _eval_at(history, step, "test", len(test_ds))) or _final_metrics(trainer, test_ds, "test")
    n_train = min(len(train_ds), recipe.data.train_eval_pairs)
    train = _final_metrics(trainer, train_ds.select(range(n_train)), "train")
    row = table1(recipe, test, train, step, history)
    if main:
        trainer.save_model(str(run_dir / "adapter"))
        tokenizer.save_pretrained(str(run_dir / "tokenizer"))
        _copy_sentencepiece(Path(base), run_dir)
        atomic_write_json(run_dir / "metrics.json", {"table1": row, "test": test, "train": train, "log_history": history})
        atomic_write_json(run_dir / "table.json", row)
        (run_dir / "table.md").write_text(table_markdown(row), encoding="utf-8")
        plot_learning_curves(history, run_dir / "learning_curve.png", f"{recipe.name} (DPO + LoRA)")
        (run_dir / "README.md").write_text(model_card(recipe, base, row), encoding="utf-8")
        run_record(recipe, base, run_dir, status="finished", step=step,
                   recipe_source=recipe_source).save(run_dir)
    log(table_markdown(row))
    return RunResult(run_dir, "finished", step, row, time.monotonic() - started)


def _is_main_process() -> bool:
    """Before the Trainer exists: accelerate/torchrun set RANK for every process."""
    return int(os.environ.get("RANK", "0")) == 0


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _copy_sentencepiece(base: Path, run_dir: Path) -> None:
    """llama.cpp's converter reads SentencePiece tokenizers from ``tokenizer.model``, which
    ``save_pretrained`` of a fast tokenizer does not write: keep the base's copy with the run."""
    import shutil

    source = base / "tokenizer.model"
    if source.is_file():
        for folder in ("tokenizer", "adapter"):
            shutil.copy2(source, run_dir / folder / "tokenizer.model")
