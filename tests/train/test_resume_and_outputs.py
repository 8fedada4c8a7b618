"""One tiny-cpu run, stopped twice on purpose: SIGTERM (Slurm preemption), then kill -9, then
resumed to the end. The finished folder is then checked for every promised output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MAX_STEPS = 12
SETTINGS = [f"dpo.max_steps={MAX_STEPS}", "dpo.save_steps=3", "dpo.eval_steps=6", "logging.logging_steps=1",
            "data.train_eval_pairs=10"]  # not a multiple of the eval batch (8): see the table test


def _start(run_dir: Path, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "probllms_train.cli", "train", "dpo", "--recipe", "tiny-cpu",
            "--output", str(run_dir), *extra]
    for item in SETTINGS:
        args += ["--set", item]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _complete_steps(run_dir: Path) -> list[int]:
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.name.split("-")[1]) for p in folder.glob("checkpoint-*")
                  if (p / "trainer_state.json").is_file())


def _wait_for_checkpoint(proc: subprocess.Popen, run_dir: Path, after: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [s for s in _complete_steps(run_dir) if s > after]
        if done:
            return done[-1]
        if proc.poll() is not None:
            raise AssertionError(f"run ended early:\n{proc.stderr.read()[-3000:]}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("no checkpoint in time")


@pytest.fixture(scope="module")
def interrupted_then_finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    story: dict = {}

    from probllms_train.train.config import load_recipe
    from probllms_train.train.run import run_dpo

    recipe, path = load_recipe("tiny-cpu", SETTINGS)

    # 1) SIGTERM as Slurm sends it before preemption, delivered to this very process once the
    #    first checkpoint exists: checkpoint at the next step, clean return
    def preempt_after_first_checkpoint():
        deadline = time.monotonic() + 120
        while not _complete_steps(run_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=preempt_after_first_checkpoint, daemon=True)
    watcher.start()
    term_logs: list[str] = []
    story["term_result"] = run_dpo(recipe, str(path), run_dir, log=term_logs.append)
    watcher.join()
    story["term_logs"] = term_logs
    story["after_term"] = json.loads((run_dir / "run.json").read_text())
    story["steps_after_term"] = _complete_steps(run_dir)

    # 2) kill -9 after it resumed and wrote a newer checkpoint
    proc = _start(run_dir, "--resume")
    _wait_for_checkpoint(proc, run_dir, after=max(story["steps_after_term"]))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    story["steps_after_kill"] = _complete_steps(run_dir)

    # 3) the same command again (no --resume: a checkpoint in the folder is enough)
    logs: list[str] = []
    story["result"] = run_dpo(recipe, str(path), run_dir, log=logs.append)
    story["logs"] = logs
    story["steps_final"] = _complete_steps(run_dir)
    story["run_dir"] = run_dir
    return story


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(interrupted_then_finished):
    s = interrupted_then_finished
    assert s["term_result"].status == "preempted"
    assert s["after_term"]["status"] == "preempted"
    stopped_at = s["after_term"]["final_step"]
    assert 0 < stopped_at < MAX_STEPS
    assert max(s["steps_after_term"]) == stopped_at  # the checkpoint is at the step where it stopped
    assert any("SIGTERM" in line and "--resume" in line for line in s["term_logs"])


def test_resume_reaches_the_same_final_step_and_keeps_checkpoints(interrupted_then_finished):
    s = interrupted_then_finished
    assert any("resuming from" in line for line in s["logs"])
    assert s["result"].status == "finished" and s["result"].step == MAX_STEPS
    # nothing lost: every checkpoint seen before an interruption is still there
    assert set(s["steps_after_term"]) <= set(s["steps_after_kill"]) <= set(s["steps_final"])
    assert max(s["steps_final"]) == MAX_STEPS
    run = json.loads((s["run_dir"] / "run.json").read_text())
    assert run["status"] == "finished" and run["final_step"] == MAX_STEPS


def test_reward_accuracy_rises_and_lands_in_the_table(interrupted_then_finished):
    run_dir = interrupted_then_finished["run_dir"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    train_acc = [(e["step"], e["rewards/accuracies"]) for e in metrics["log_history"] if "rewards/accuracies" in e]
    # step 1: adapter is zero-initialised, so policy == reference and no pair is preferred yet
    assert train_acc[0][1] <= 0.5
    table = json.loads((run_dir / "table.json").read_text())
    assert table["step"] == MAX_STEPS
    assert table["train_reward_accuracy_rescored"] >= 0.9  # 10 training pairs re-scored with the final adapter
    # Each accuracy is a count of pairs over the pairs, not TRL's unweighted mean of batch means
    # (10 pairs in batches of 8 once gave mean(7/8, 2/2) = 0.9375).
    for key, n in (("train_reward_accuracy_rescored", "train_pairs_scored"), ("test_reward_accuracy", "test_pairs_scored")):
        right = table[key] * table[n]
        assert abs(right - round(right)) < 1e-6, (key, table[key], table[n])
    # the progress report's train accuracy: TRL's last logged value, at the last logging step
    last = [e for e in metrics["log_history"] if "rewards/accuracies" in e][-1]
    assert table["train_reward_accuracy_logged"] == last["rewards/accuracies"]
    assert table["train_reward_accuracy_logged_step"] == last["step"]
    assert table["test_reward_accuracy"] >= 0.8
    assert table["eval_loss"] < 0.693  # below log(2), the loss of a policy equal to the reference
    assert f"| tiny-cpu | {MAX_STEPS} |" in (run_dir / "table.md").read_text()
    assert "Train reward accuracy (logged) | Train reward accuracy (re-scored)" in (run_dir / "table.md").read_text()
    evals = [e for e in metrics["log_history"] if "eval_rewards/accuracies" in e]
    assert [e["step"] for e in evals] == [6, 12]


def test_run_folder_holds_everything_export_needs(interrupted_then_finished):
    run_dir = interrupted_then_finished["run_dir"]
    run = json.loads((run_dir / "run.json").read_text())
    assert (run_dir / run["adapter"] / "adapter_config.json").is_file()
    assert (run_dir / run["tokenizer"] / "tokenizer.model").is_file()
    # Relative to the run folder, so export and bench reward work from any directory.
    assert run["base_model"] == "base-model" and (run_dir / run["base_model"] / "config.json").is_file()
    assert run["base_model_label"] == "tiny Llama (built from a config)"  # what the Models screen shows
    assert (run_dir / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert "dpo" in (run_dir / "README.md").read_text()
    from probllms_train.train.config import Recipe
    import yaml

    saved = Recipe.model_validate(yaml.safe_load((run_dir / "recipe.yaml").read_text()))
    assert saved.dpo.max_steps == MAX_STEPS


def test_a_finished_run_is_never_overwritten(interrupted_then_finished):
    from probllms_tui.core.errors import InputError
    from probllms_train.train.config import load_recipe
    from probllms_train.train.run import run_dpo

    run_dir = interrupted_then_finished["run_dir"]
    before = (run_dir / "table.json").read_bytes()
    recipe, path = load_recipe("tiny-cpu", SETTINGS)
    with pytest.raises(InputError, match="already finished"):
        run_dpo(recipe, str(path), run_dir, log=lambda _: None)
    assert (run_dir / "table.json").read_bytes() == before
