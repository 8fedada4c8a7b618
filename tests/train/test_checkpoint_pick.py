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
