"""The one atomic write: whole files only, and the permissions open() would give."""

from __future__ import annotations

import os
import stat

from probllms_tui.core.files import atomic_write_text


def test_a_new_file_gets_the_umask_mode_and_a_replaced_one_keeps_its_own(tmp_path):
    """mkstemp's 0600 made every dataset, manifest and report unreadable to teammates."""
    old = os.umask(0o022)
    try:
        fresh = atomic_write_text(tmp_path / "train.jsonl", "{}\n")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        shared = tmp_path / "manifest.json"
        shared.write_text("{}")
        shared.chmod(0o664)
        atomic_write_text(shared, '{"a": 1}\n')
        assert stat.S_IMODE(shared.stat().st_mode) == 0o664 and shared.read_text() == '{"a": 1}\n'
    finally:
        os.umask(old)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
