"""Nothing half-written in models/: every file is built in a hidden staging folder first.

An export writes its merged checkpoint, F16 GGUF and quantized files into
``models/.export-<name>.partial/`` (same filesystem, so the final move is an atomic
``os.replace``), fsyncs each finished file and only then moves it to its final name.
Ctrl-C and SIGTERM unwind through ``__exit__``, which deletes the staging folder. A SIGKILL
cannot be caught: it leaves only the hidden staging folder, which the registry never lists
(it globs ``*.gguf`` at the top level) and the next export of any name removes.
"""

from __future__ import annotations

from probllms_tui.core.files import atomic_write_text

import os
import shutil
import signal
from pathlib import Path
from types import FrameType

STAGING_PREFIX = ".export-"
STAGING_SUFFIX = ".partial"


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def remove_stale_staging(models_dir: Path) -> list[Path]:
    """Delete staging folders a killed export left behind; return what was removed."""
    removed = []
    for p in models_dir.glob(f"{STAGING_PREFIX}*{STAGING_SUFFIX}"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


class _Terminated(KeyboardInterrupt):
    """SIGTERM turned into an exception so that cleanup runs, as it does for Ctrl-C."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
    raise _Terminated()


class Staging:
    """A staging folder inside ``models_dir`` that exists only while an export runs."""

    def __init__(self, models_dir: Path, name: str):
        self.models_dir = Path(models_dir)
        self.dir = self.models_dir / f"{STAGING_PREFIX}{name}{STAGING_SUFFIX}"
        self._old_sigterm = None

    def __enter__(self) -> "Staging":
        self.models_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(self.models_dir)
        self.dir.mkdir()
        try:
            self._old_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
        except ValueError:  # not the main thread: Ctrl-C still unwinds, SIGTERM kills
            self._old_sigterm = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name: str) -> Path:
        return self.dir / name

    def publish(self, staged: Path, final_name: str) -> Path:
        """fsync a finished staged file and move it to ``models_dir/final_name`` atomically."""
        fsync_file(staged)
        final = self.models_dir / final_name
        os.replace(staged, final)
        fsync_dir(self.models_dir)
        return final
