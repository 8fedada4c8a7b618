"""run.json, typed: the one record a training run leaves for export, bench and resume.

One writer (``train/run.py`` through ``report.new_run_record``) and every reader
(``export/source.py``, ``bench/reward.py``, ``bench/models.py``, ``train/run.py``) and the
test fixtures go through ``RunRecord``, so a key is spelled once. There are no alternative
spellings: a run.json with a key the writer never writes is refused with the key named,
instead of being silently half-read.

This module imports only pydantic and the core errors: export and bench read run.json
without importing the training stack.
"""

from __future__ import annotations

from probllms_tui.core.files import atomic_write_json

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from probllms_tui.core.errors import InputError

RUN_FORMAT = 1
RUN_JSON = "run.json"
ADAPTER_CONFIG = "adapter_config.json"
Status = Literal["running", "preempted", "finished"]


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = RUN_FORMAT
    status: Status
    recipe: str = ""
    recipe_source: str = ""          # the recipe name or YAML path the run was started with
    base_model: str                  # hub id or folder export merges into (for GGUF runs: a cache folder)
    base_model_label: str = ""       # what a person calls the base (the Models screen shows it)
    model_source: str = ""           # hf | tiny | gguf
    adapter: str | None = None       # folder, relative to the run folder; set once finished
    tokenizer: str | None = None     # folder, relative to the run folder; set once finished
    final_step: int = Field(0, ge=0)
    max_steps: int | None = None
    beta: float | None = None        # DPO beta: bench reward's implicit reward needs it
    updated: str = ""                # ISO time of the last write
    run_dir: str = ""                # absolute path when written (the folder may move later)

    @classmethod
    def path(cls, run_dir: Path) -> Path:
        return Path(run_dir) / RUN_JSON

    @classmethod
    def exists(cls, run_dir: Path) -> bool:
        return cls.path(run_dir).is_file()

    @classmethod
    def load(cls, run_dir: Path) -> RunRecord:
        """The folder's run.json; bad input is one InputError naming the file (and line)."""
        path = cls.path(run_dir)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("run.json not found", where=str(path)) from None
        except json.JSONDecodeError as exc:
            raise InputError(f"run.json is not valid JSON ({exc.msg})", where=f"{path}:{exc.lineno}") from None
        if not isinstance(data, dict):
            raise InputError("run.json must hold a JSON object", where=str(path))
        if isinstance(data.get("format"), int) and data["format"] > RUN_FORMAT:
            raise InputError(f"run.json format {data['format']} is newer than this version reads "
                             f"({RUN_FORMAT}); update probllms-train", where=str(path))
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(x) for x in err["loc"]) or "run.json"
            raise InputError(f"run.json key {key!r}: {err['msg']}", where=str(path)) from None

    def save(self, run_dir: Path) -> Path:
        """Atomic: a kill mid-write never leaves a truncated run.json for export to trip on."""
        return atomic_write_json(self.path(run_dir), self.model_dump(mode="json"))

    def adapter_dir(self, run_dir: Path) -> Path:
        """The adapter folder: the recorded one, else ``adapter/`` or the run folder itself
        (an adapter saved straight into it) when either holds an adapter config."""
        run_dir = Path(run_dir)
        if self.adapter:
            p = Path(self.adapter)
            return p if p.is_absolute() else run_dir / p
        return run_dir / "adapter" if (run_dir / "adapter" / ADAPTER_CONFIG).is_file() else run_dir

    def tokenizer_dir(self, run_dir: Path) -> Path | None:
        if not self.tokenizer:
            return None
        p = Path(run_dir) / self.tokenizer
        return p if p.is_dir() else None


__all__ = ["RUN_FORMAT", "RunRecord"]
