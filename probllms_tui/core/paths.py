"""Where ProbLLMs keeps things: the data dir (store, notes index, settings) and models dir."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "probllms"
# A source checkout (the README's `pip install -e .`) has models/ and notes/ beside the package.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_dir(override: str | Path | None = None) -> Path:
    """``--data-dir`` > ``$PROBLLMS_HOME`` > the platform's user data dir."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("PROBLLMS_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def models_dir(override: str | Path | None = None) -> Path:
    """``--models-dir`` > ``$PROBLLMS_MODELS`` > the checkout's ``models/`` > data dir/models."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("PROBLLMS_MODELS")
    if env:
        return Path(env).expanduser()
    if (PROJECT_ROOT / "models").is_dir() and (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "models"
    return data_dir() / "models"


def default_notes_dir() -> Path:
    """The sample notes the project ships in ``notes/`` beside the package.

    Why not packaged: the README installs from the checkout (``pip install -e .``), where
    ``notes/`` is the folder students read and extend. A wheel installed elsewhere has no
    sample notes; the app then answers without sources, and ``--notes DIR`` (or
    ``probllms-tui notes index DIR``) points it at the student's own folder.
    """
    return PROJECT_ROOT / "notes"
