"""The app's two services on their own, without Textual: the model host and the notes.

Each test runs the threads the app's workers would run, with the scripted engine and
retriever of fakes.py, and bounds every wait so that a deadlock fails instead of hanging.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from probllms_tui.app.config import AppConfig
from probllms_tui.app.services.models import ModelHost, calibration_notice
from probllms_tui.app.services.notes import NotesService

from fakes import FakeEngine, FakeRetriever, engine_factory  # tests/tui/conftest.py puts it on the path

WAIT_S = 5.0  # the longest any step may take before the test calls it a hang


def in_thread(fn) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


# --- the model host ---------------------------------------------------------------------
def host_with(tmp_path: Path, factory) -> ModelHost:
    return ModelHost(AppConfig(data_dir=tmp_path, engine_factory=factory))


def test_a_model_that_fails_to_open_says_why_and_sessions_get_none(tmp_path):
    host = host_with(tmp_path, engine_factory(fail="*"))
    host.begin_load(None)
    assert host.open(None, 2048) is None
    assert host.error == "cannot load default: not a GGUF file"
    with host.session(lambda: False) as engine:
        assert engine is None
    assert host.problem() == ("Model not loaded: cannot load default: not a GGUF file. "
                              "Pick one on the Models screen (F4).")


def test_a_good_load_clears_the_last_error_and_names_the_model(tmp_path):
    fails = [False, True]  # popped from the end: the first open fails

    def factory(name, models_dir, n_ctx):
        if fails.pop():
            raise OSError("no such file")
        return FakeEngine(name="picked", n_ctx=n_ctx)

    host = host_with(tmp_path, factory)
    host.begin_load("picked")
    host.open("picked", 1024)
    assert host.error == "no such file" and host.label == "picked"
    host.begin_load(None)
    assert host.label == "default model" and host.spec is None
    engine = host.open(None, 1024)
    assert engine is host.engine and engine.n_ctx == 1024 and host.error == ""


def test_a_session_waits_for_the_load_then_holds_the_model(tmp_path):
    release, engine = threading.Event(), FakeEngine()

    def slow_factory(name, models_dir, n_ctx):
        assert release.wait(WAIT_S)
        return engine

    host = host_with(tmp_path, slow_factory)
    host.begin_load(None)
    loader = in_thread(lambda: host.open(None, 2048))
    got = []

    def ask():
        with host.session(lambda: False) as e:
            got.append(e)

    asker = in_thread(ask)
    asker.join(0.3)
    assert asker.is_alive() and got == []  # still loading: the session waits
    release.set()
    loader.join(WAIT_S)
    asker.join(WAIT_S)
    assert got == [engine]


def test_a_waiting_session_gives_up_when_its_worker_is_cancelled(tmp_path):
    host = host_with(tmp_path, engine_factory())
    host.begin_load(None)  # a load that never ends
    cancelled, got = threading.Event(), []

    def ask():
        with host.session(cancelled.is_set) as e:
            got.append(e)

    asker = in_thread(ask)
    asker.join(0.2)
    assert asker.is_alive()
    cancelled.set()
    asker.join(WAIT_S)
    assert not asker.is_alive() and got == [None]


def test_a_new_load_waits_for_the_session_in_use_then_closes_the_old_model(tmp_path):
    old, new = FakeEngine(name="old"), FakeEngine(name="new")
    engines = iter([old, new])
    host = host_with(tmp_path, lambda name, models_dir, n_ctx: next(engines))
    host.begin_load("old")
    host.open("old", 2048)
    holding, done = threading.Event(), threading.Event()

    def generate():
        with host.session(lambda: False) as e:
            assert e is old
            holding.set()
            assert done.wait(WAIT_S)

    user = in_thread(generate)
    assert holding.wait(WAIT_S)
    host.begin_load("new")
    loader = in_thread(lambda: host.open("new", 2048))
    loader.join(0.2)
    assert loader.is_alive() and not old.closed  # never closed under a running generation
    done.set()
    user.join(WAIT_S)
    loader.join(WAIT_S)
    assert old.closed and host.engine is new


def test_closing_on_quit_never_waits_for_a_busy_model(tmp_path):
    engine = FakeEngine()
    host = host_with(tmp_path, engine_factory(engine))
    host.begin_load(None)
    host.open(None, 2048)
    holding, done = threading.Event(), threading.Event()

    def busy():
        with host.session(lambda: False):
            holding.set()
            assert done.wait(WAIT_S)

    user = in_thread(busy)
    assert holding.wait(WAIT_S)
    t0 = time.monotonic()
    host.close_if_idle(wait_s=0.05)
    assert time.monotonic() - t0 < 1.0
    assert not engine.closed and host.engine is engine  # left to the process exit
    done.set()
    user.join(WAIT_S)
    host.close_if_idle(wait_s=0.05)
    assert engine.closed and host.engine is None


def test_what_a_model_calibration_tells_the_student():
    key, text = calibration_notice(FakeEngine(name="tiny"))
    assert key == "uncalibrated:tiny" and "probllms-train bench calibrate --model tiny" in text

    def calibrated(weak):
        engine = FakeEngine(name="tiny")
        engine.calibrations = {"cloze": SimpleNamespace(near_chance=lambda: weak)}
        return engine

    assert calibration_notice(calibrated([])) is None
    key, text = calibration_notice(calibrated([{"set": "mmlu", "accuracy": 0.27, "chance": 0.25, "n": 60}]))
    assert key == "near-chance:tiny" and "near chance on mmlu: 27% right (chance 25%, n=60)" in text


# --- the notes --------------------------------------------------------------------------
class Notices(list):
    """A notify callable that keeps (text, severity) pairs."""

    def __call__(self, text, *, severity="information", timeout=None):
        self.append((text, severity))

    def texts(self) -> list[str]:
        return [text for text, _ in self]


def notes_with(tmp_path: Path, *, retriever_factory, notes_indexer=None, owner=True,
               notes_dir: Path | None = None) -> tuple[NotesService, Notices]:
    config = AppConfig(data_dir=tmp_path / "home", retriever_factory=retriever_factory,
                       notes_indexer=notes_indexer, notes_dir=notes_dir)
    notices = Notices()
    return NotesService(config, SimpleNamespace(owner=owner, problem=""), notices), notices


@pytest.fixture
def notes_dir(tmp_path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "graphs.md").write_text("# Dijkstra\nShortest paths.\n")
    return folder


def test_the_retriever_is_opened_once_whoever_asks_first(tmp_path):
    opened = []

    def factory(data_dir):
        opened.append(data_dir)
        time.sleep(0.05)  # slow, as chromadb is: every asker arrives while it opens
        return FakeRetriever([])

    notes, _ = notes_with(tmp_path, retriever_factory=factory)
    got = []
    askers = [in_thread(lambda: got.append(notes.retriever())) for _ in range(6)]
    for asker in askers:
        asker.join(WAIT_S)
    assert opened == [tmp_path / "home"]
    assert len(got) == 6 and all(r is got[0] for r in got) and got[0] is not None


def test_an_index_that_fails_to_open_is_said_once(tmp_path):
    def factory(data_dir):
        raise OSError("database is locked")

    notes, notices = notes_with(tmp_path, retriever_factory=factory)
    assert [notes.retriever() for _ in range(3)] == [None, None, None]
    assert notices == [("Notes index unavailable: database is locked", "warning")]


def test_forget_and_reopen_open_the_index_afresh(tmp_path):
    notes, _ = notes_with(tmp_path, retriever_factory=lambda data_dir: FakeRetriever([]))
    first = notes.retriever()
    assert notes.open_attempted and notes.retriever() is first
    notes.forget()
    assert not notes.open_attempted
    second = notes.retriever()
    assert second is not first
    assert notes.reopen() is not second


def test_a_first_run_indexes_the_notes_then_answers_cite_them(tmp_path, notes_dir):
    built, fresh = [], FakeRetriever([])

    def indexer(folder, data_dir, progress=None, **kw):
        built.append(folder)
        return {"indexed": 1, "removed": 0, "skipped": []}

    notes, notices = notes_with(tmp_path, retriever_factory=lambda data_dir: fresh if built else None,
                                notes_indexer=indexer, notes_dir=notes_dir)
    notes.open_and_catch_up(should_stop=lambda: False)
    assert built == [notes_dir] and notes.retriever() is fresh
    assert notices.texts()[0].startswith(f"Indexing the notes in {notes_dir}")
    assert notices.texts()[-1] == f"Notes indexed from {notes_dir}: answers now cite them."


def test_only_the_data_dirs_owner_writes_the_index(tmp_path, notes_dir):
    built = []
    notes, notices = notes_with(tmp_path, retriever_factory=lambda data_dir: None, owner=False,
                                notes_indexer=lambda *a, **kw: built.append(a), notes_dir=notes_dir)
    notes.open_and_catch_up(should_stop=lambda: False)
    assert built == [] and notices == []


def test_a_failed_index_is_said_and_a_cancelled_one_is_not(tmp_path, notes_dir):
    stop = threading.Event()

    def indexer(folder, data_dir, progress=None, should_stop=lambda: False, **kw):
        raise OSError("disk full")

    notes, notices = notes_with(tmp_path, retriever_factory=lambda data_dir: None,
                                notes_indexer=indexer, notes_dir=notes_dir)
    stop.set()  # the app is quitting: the indexer's failure is the quit, not news
    notes.index(first_time=False, should_stop=stop.is_set)
    assert notices == []
    notes.index(first_time=False, should_stop=lambda: False)
    assert notices == [("Notes not indexed: disk full (Notes screen F5, ctrl+r to retry)", "warning")]


def test_index_children_are_told_to_stop_and_not_waited_for(tmp_path, notes_dir):
    class Job:
        stopped = False

        def stop(self):
            self.stopped = True

    job = Job()

    def indexer(folder, data_dir, progress=None, started=None, **kw):
        started(job)
        return {"indexed": 0, "removed": 0, "skipped": []}

    notes, _ = notes_with(tmp_path, retriever_factory=lambda data_dir: None,
                          notes_indexer=indexer, notes_dir=notes_dir)
    notes.index(first_time=False)
    assert notes.index_jobs == (job,) and not job.stopped
    notes.stop_index_jobs()
    assert job.stopped


def test_a_rebuild_drops_the_open_index_before_and_after(tmp_path, notes_dir):
    during = []

    def indexer(folder, data_dir, progress=None, rebuild=False, **kw):
        during.append((folder, rebuild, notes.open_attempted))
        progress(1, 1, "graphs.md")
        return {"indexed": 1, "removed": 0, "skipped": []}

    notes, _ = notes_with(tmp_path, retriever_factory=lambda data_dir: FakeRetriever([]),
                          notes_indexer=indexer)
    notes.retriever()
    seen = []
    notes.rebuild(notes_dir, progress=lambda *a: seen.append(a), should_stop=lambda: False)
    assert during == [(notes_dir, True, False)] and seen == [(1, 1, "graphs.md")]
    assert not notes.open_attempted  # the next answer opens the rebuilt index
