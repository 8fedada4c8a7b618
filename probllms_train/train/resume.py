"""Preemption and resume: the pieces that make a run survive SIGTERM and kill -9.

- SIGTERM (Slurm preemption, ``--signal=B:TERM@120``) or SIGUSR1 asks for a stop: at the end
  of the current optimizer step the Trainer saves a checkpoint and returns, and the run exits 0.
- kill -9 leaves at most a half-written checkpoint: ``last_complete_checkpoint`` skips it
  (``trainer_state.json`` is the last file the Trainer writes into a checkpoint).
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

from transformers import TrainerCallback

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def checkpoints(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))]
    return sorted(found)


def _state_readable(checkpoint: Path) -> bool:
    """trainer_state.json is the Trainer's last file, but it is not written atomically: a kill -9
    mid-write leaves it empty or cut, and resuming from it crashed in json.loads."""
    import json

    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def last_complete_checkpoint(folder: Path) -> Path | None:
    complete = [p for _, p in checkpoints(folder) if _state_readable(p)]
    return complete[-1] if complete else None


class PreemptionCallback(TrainerCallback):
    """Turns SIGTERM/SIGUSR1 into "save a checkpoint now and stop" at the next step boundary."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._previous = {}
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _agreed(self) -> bool:
        """All ranks stop on the same step, or the checkpoint's collective save would hang."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return self.requested
        import torch

        flag = torch.tensor([1.0 if self.requested else 0.0],
                            device="cuda" if torch.cuda.is_available() else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        self.requested = bool(flag.item())
        return self.requested

    def on_step_end(self, args, state, control, **kwargs):
        if self._agreed():
            control.should_save = True
            control.should_training_stop = True
        return control


class LogLineCallback(TrainerCallback):
    """One short line per log event instead of the Trainer's raw dicts (those go to TensorBoard)."""

    KEYS = (("loss", "loss"), ("rewards/accuracies", "acc"), ("rewards/margins", "margin"),
            ("eval_loss", "eval_loss"), ("eval_rewards/accuracies", "eval_acc"),
            ("eval_rewards/margins", "eval_margin"))

    def __init__(self, log) -> None:
        self.log = log
        # Set while the final adapter scores a named set (e.g. "32 train pairs"): TRL logs
        # those metrics as eval_*, which would read as a second test evaluation.
        self.scoring: str | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        parts = [f"{label} {logs[key]:.4g}" for key, label in self.KEYS if isinstance((logs or {}).get(key), float)]
        if not parts or not state.is_world_process_zero:
            return
        if self.scoring:
            parts = [p.replace("eval_", "") for p in parts]
            self.log(f"final adapter on {self.scoring}:  " + "  ".join(parts))
        else:
            self.log(f"step {state.global_step}/{state.max_steps}  " + "  ".join(parts))
