"""Model hosting: the one llama.cpp model the screens share.

The model opens in a worker thread the app gives (llama.cpp blocks for seconds). Users ask
for it through ``session``, which waits for the load and serialises use of the one llama.cpp
context: a new question cancels the old worker, whose thread may still be inside a llama.cpp
call, so the next one waits for the lock rather than racing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from probllms_tui.app.config import AppConfig
from probllms_tui.core.errors import one_line
from probllms_tui.engine.base import Engine

DEFAULT_LABEL = "default model"


class ModelHost:
    """Opens, holds and closes the model; safe to use from any thread."""

    def __init__(self, config: AppConfig):
        self._open_engine = config.engine_factory
        self._models_dir = config.models_dir
        self.engine: Engine | None = None
        self.error = ""  # why the last load failed, one line; "" after a good load
        self.spec: str | None = config.model  # what was asked for: a reload asks for it again
        self.label = self.spec or DEFAULT_LABEL  # what the status bar and Models screen call it
        self._ready = threading.Event()  # set once the load in flight has ended, well or not
        self._lock = threading.Lock()  # held by whoever uses the llama.cpp context

    def begin_load(self, name: str | None) -> None:
        """On the UI thread, before the loading worker starts: sessions wait from now on."""
        self.spec = name
        self.label = name or DEFAULT_LABEL
        self._ready.clear()

    def open(self, name: str | None, n_ctx: int) -> Engine | None:
        """In the loading worker: close the model in use, open ``name``; None if it failed
        (``error`` says why)."""
        with self._lock:  # waits for a running generation to reach its next token
            old, self.engine = self.engine, None
            if old is not None:
                old.close()
            try:
                self.engine = self._open_engine(name, self._models_dir, n_ctx)
                self.error = ""
            except Exception as exc:  # ModelLoadError and anything llama.cpp raises
                self.error = one_line(exc)
            finally:
                self._ready.set()
            return self.engine

    def problem(self) -> str:
        """What a screen says when there is no model to answer with."""
        return f"Model not loaded: {self.error or 'stopped'}. Pick one on the Models screen (F4)."

    @contextmanager
    def session(self, should_stop: Callable[[], bool]) -> Iterator[Engine | None]:
        """In a worker thread: wait for the model, then hold it; yields None if unavailable
        or if ``should_stop`` turns true while waiting (polled, so a cancelled worker leaves)."""
        while not self._ready.wait(0.05):
            if should_stop():
                yield None
                return
        while not self._lock.acquire(timeout=0.05):
            if should_stop():
                yield None
                return
        try:
            yield None if should_stop() else self.engine
        finally:
            self._lock.release()

    def close_if_idle(self, wait_s: float = 0.05) -> None:
        """Close the model unless it is busy (loading, scoring) for longer than ``wait_s``:
        quitting never waits for llama.cpp; a busy model is left to the process exit."""
        if not self._lock.acquire(timeout=wait_s):
            return
        try:
            if self.engine is not None:
                self.engine.close()
                self.engine = None
        finally:
            self._lock.release()


def calibration_notice(engine: Engine) -> tuple[str, str] | None:
    """(key, text) of what the model's calibration measured, when a student should hear it:
    near chance on some set, or not calibrated at all. The key lets the app say it once.
    A set counts under the method that serves its kind of options (a model may read numbers
    by cloze and text by letter); a set measured without a kind, under the default method."""
    calibrations = getattr(engine, "calibrations", None) or {}
    default = getattr(engine, "default_method", "")
    by_kind = getattr(engine, "method_by_kind", None) or {}
    if calibrations.get(default) is None:
        return f"uncalibrated:{engine.name}", (
            f"{engine.name} is not calibrated: its percentages are not measured. "
            f"Calibrate it on a bank with answer keys (training extra installed): "
            f"probllms-train bench calibrate --model {engine.name} --data BANK.jsonl --out calibration")
    weak = [w for method, calibration in calibrations.items() for w in calibration.near_chance()
            if method == (by_kind.get(w["option_kind"], default) if w.get("option_kind") else default)]
    if not weak:
        return None
    w = weak[0]
    return f"near-chance:{engine.name}", (
        f"{engine.name} is near chance on {w.get('label') or w['set']}: {w['accuracy']:.0%} right "
        f"(chance {w['chance']:.0%}, n={w['n']}). Treat its picks there as guesses and read "
        "your notes; stronger models are on the Models screen (F4).")
