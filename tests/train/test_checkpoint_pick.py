"""Resume picks the newest checkpoint whose trainer_state.json is readable."""

from __future__ import annotations

import json

from probllms_train.train.resume import last_complete_checkpoint


def test_a_checkpoint_killed_while_writing_its_state_is_skipped(tmp_path):
    for step, state in ((3, json.dumps({"global_step": 3})), (6, json.dumps({"global_step": 6})), (9, "")):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-12").mkdir()  # no state at all yet
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-6"


def test_only_a_checkpoint_binds_the_output_folder_to_its_recipe(tmp_path):
    """A start that failed before its first checkpoint (a mistyped model path) left recipe.yaml,
    and the corrected recipe was refused the same --output: Slurm scripts keep one."""
    import pytest
    import yaml

    from probllms_tui.core.errors import InputError
    from probllms_train.train.config import load_recipe
    from probllms_train.train.run import check_output

    recipe, _ = load_recipe("tiny-cpu")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    old = recipe.model_dump(mode="json")
    old["dpo"]["beta"] = old["dpo"]["beta"] * 2
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(old))
    check_output(run_dir, recipe)  # no checkpoint: nothing to resume, the folder is free
    (run_dir / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    (run_dir / "checkpoints" / "checkpoint-3" / "trainer_state.json").write_text('{"global_step": 3}')
    with pytest.raises(InputError, match="cannot resume with a different recipe: dpo.beta"):
        check_output(run_dir, recipe)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(InputError, match="a file is there"):
        check_output(afile, recipe)


def test_final_scoring_batches_are_equal_so_accuracies_are_the_pairs_own():
    from probllms_train.train.run import even_batch_size

    assert [even_batch_size(n, 8) for n in (10, 16, 13, 1, 300, 512)] == [5, 8, 1, 1, 6, 8]
