"""Models, notes, help and the command palette; restarts, and a data dir that cannot be written."""

from __future__ import annotations

from tui_support import BANK, DATA, settle
from fakes import FakeEngine, engine_factory
from textual.widgets import DataTable, Input, Static

from probllms_tui.app.screens import notes as notes_screen
from probllms_tui.app.screens.help import KEYS, HelpScreen
from probllms_tui.store import Store


async def test_models_screen_lists_the_registry_and_switches_model(make_app):
    factory = engine_factory()
    app = make_app(factory=factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count >= 1
        assert table.get_row_at(0)[1:3] == ["gemma3-270m-q4_k_m", "default"]
        assert table.get_row_at(0)[3:6] == ["gemma3", "270M", "Q4_K_M"]
        table.focus()
        await pilot.press("enter")  # load the highlighted (default) model
        await settle(app, pilot)
        assert factory.opened == [(None, 2048), (None, 2048)]
        assert "Loaded" in str(app.screen.query_one("#load-state", Static).render())
        assert app.model_state == "ready"


async def test_settings_are_validated_and_persist(make_app, tmp_path):
    factory = engine_factory()
    app = make_app(factory=factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        await settle(app, pilot)
        app.screen.query_one("#set-temperature", Input).value = "9"
        await pilot.press("ctrl+s")
        assert "Temperature" in str(app.screen.query_one("#settings-error", Static).render())
        # Each value in range, but together they leave the notes no room: refused, saying why.
        app.screen.query_one("#set-temperature", Input).value = "0.7"
        app.screen.query_one("#set-max_tokens", Input).value = "2048"
        app.screen.query_one("#set-context_length", Input).value = "512"
        await pilot.press("ctrl+s")
        assert "leaves no room for notes" in str(app.screen.query_one("#settings-error", Static).render())
        app.screen.query_one("#set-max_tokens", Input).value = "64"
        app.screen.query_one("#set-context_length", Input).value = "1024"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert str(app.screen.query_one("#settings-error", Static).render()) == ""
        assert factory.opened[-1] == (None, 1024)  # a new context length reloads the model
    again = Store.open(tmp_path / "home")
    saved, problems = again.load_settings()
    assert (saved.temperature, saved.max_tokens, saved.context_length) == (0.7, 64, 1024)
    assert problems == []
    again.close()


async def test_notes_screen_without_a_rag_service_says_so(make_app, monkeypatch):
    monkeypatch.setattr(notes_screen, "rag_service", lambda: None)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        assert "Index not available" in str(app.screen.query_one("#index-status", Static).render())
        await pilot.press("ctrl+r")
        assert any("not available" in n.message for n in app._notifications)


async def test_notes_reindex_shows_progress_and_reopens_the_retriever(make_app, monkeypatch):
    calls = []

    class Service:  # the RAG service's two functions (rag/service.py)
        @staticmethod
        def index_status(data_dir):
            return {"exists": bool(calls), "files": len(calls), "chunks": 3 * len(calls)}

        @staticmethod
        def build_index(notes_dir, data_dir, *, rebuild=False, progress=None):
            raise AssertionError("the rebuild runs through the app's indexer (a child process)")

    def indexer(notes_dir, data_dir, progress=None, *, rebuild=False, **kw):
        if rebuild:  # the first-run index (rebuild=False) is not what this test is about
            for i, name in enumerate(["a.md", "b.md"], 1):
                progress(i, 2, name)
            calls.append((notes_dir, data_dir, rebuild))
        return {"indexed": 0, "removed": 0, "skipped": []}

    monkeypatch.setattr(notes_screen, "rag_service", lambda: Service)
    app = make_app(notes_indexer=indexer)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        assert "No index yet" in str(app.screen.query_one("#index-status", Static).render())
        app.notes.retriever()  # opened: the rebuild must make the next answer open it afresh
        assert app.notes.open_attempted
        await pilot.press("ctrl+r")
        await settle(app, pilot, 0.1)
        assert calls and calls[0][2] is True
        assert "Index ready" in str(app.screen.query_one("#index-status", Static).render())
        assert app.notes.open_attempted is False  # the next answer opens the fresh index


async def test_help_lists_every_key_the_footer_shows(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        keys_in_help = " ".join(k for _, k, _ in KEYS).lower()
        for mode in ("practice", "ask", "models", "notes"):
            app.switch_mode(mode)
            await pilot.pause(0.05)
            for binding in app.screen.BINDINGS:
                if binding.show:
                    shown = (binding.key_display or binding.key).split(",")[0].lower()
                    assert shown.split("/")[0] in keys_in_help, (mode, shown)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_switches_screens(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.1)
        await pilot.press(*"models")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.current_mode == "models"


async def test_history_and_schedule_survive_a_restart(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")  # wrong
        await settle(app, pilot)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert app.store.answer_count() == 1
        assert app.store.card("q-prime") is not None
        assert "1 answer" in str(app.screen.query_one("#queue-info", Static).render())
        assert app.store.mistake_ids() == ["q-prime"]


async def test_an_unwritable_data_dir_keeps_the_app_usable(make_app):
    # /proc refuses new folders even to root: the store cannot be created there.
    app = make_app(data_dir=__import__("pathlib").Path("/proc/probllms-test-home"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert any("cannot save to /proc" in n.message for n in app._notifications)
        assert "not saving" in app.status_text
        await pilot.press("c")
        await settle(app, pilot)
        assert "Correct" in str(app.screen.query_one("#feedback", Static).render())
        assert app.store.answer_count() == 1  # kept in memory for this session


async def test_cli_flags_reach_the_app(monkeypatch, tmp_path):
    from probllms_tui.app import launch as launch_module

    seen = {}
    # run_then_exit ends the process after the app: record the app instead of running it.
    monkeypatch.setattr(launch_module, "run_then_exit", lambda app: seen.setdefault("config", app.config))
    launch_module.launch(model="m.gguf", banks=[BANK], notes=tmp_path, data_dir=tmp_path / "d", rag=False)
    config = seen["config"]
    assert (config.model, config.banks, config.notes_dir, config.data_dir, config.rag) == (
        "m.gguf", [BANK], tmp_path, tmp_path / "d", False)


async def test_first_run_indexes_the_notes_in_the_background(make_app):
    """No index yet: the app indexes the notes folder itself, then answers can cite it."""
    from fakes import FakeRetriever

    built, fresh = [], FakeRetriever([])

    def indexer(notes_dir, data_dir, progress, **kw):
        built.append((notes_dir, data_dir))
        return {"indexed": 2, "removed": 0, "skipped": [{"path": "notes/broken.pdf", "reason": "not a PDF"}]}

    app = make_app(retriever_factory=lambda data_dir: fresh if built else None, notes_indexer=indexer)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot, 0.1)
        assert built == [(app.config.notes_dir, app.config.data_dir)]
        assert app.notes.retriever() is fresh
        assert any("1 note file(s) skipped, e.g. notes/broken.pdf: not a PDF" in n.message
                   for n in app._notifications)


def gated_indexer():
    """A first-run indexer that holds until released: (indexer, started, release, built)."""
    import threading

    started, release, built = threading.Event(), threading.Event(), []

    def indexer(notes_dir, data_dir, progress, **kw):
        started.set()
        release.wait(10)
        built.append(notes_dir)
        return {"indexed": 2, "removed": 0, "skipped": []}

    return indexer, started, release, built


async def test_the_status_bar_says_the_notes_are_indexing_until_answers_can_cite_them(make_app):
    from fakes import FakeRetriever

    indexer, started, release, built = gated_indexer()
    app = make_app(retriever_factory=lambda data_dir: FakeRetriever([]) if built else None, notes_indexer=indexer)
    async with app.run_test(size=(100, 30)) as pilot:
        while not started.is_set():
            await pilot.pause(0.05)
        await pilot.pause(0.2)  # not settle: that waits for the indexing worker
        assert "RAG: indexing notes…" in app.status_text
        release.set()
        await settle(app, pilot, 0.1)
        assert "RAG on" in app.status_text and "indexing" not in app.status_text
        assert app.notes.retriever() is not None


async def test_an_existing_index_is_used_as_is(make_app):
    from fakes import FakeRetriever

    built, existing = [], FakeRetriever([])
    app = make_app(retriever_factory=lambda data_dir: existing, notes_dir=None,
                   notes_indexer=lambda notes_dir, data_dir, progress, **kw: built.append(notes_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot, 0.1)
        assert built == [] and app.notes.retriever() is existing


async def test_a_failed_first_index_is_explained_and_answers_go_on(make_app):
    def indexer(notes_dir, data_dir, progress, **kw):
        raise OSError("disk full")

    app = make_app(retriever_factory=lambda data_dir: None, notes_indexer=indexer)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot, 0.1)
        assert any("Notes not indexed: disk full" in n.message for n in app._notifications)
        assert app.notes.retriever() is None


async def test_quitting_stops_a_first_run_index_between_files(make_app):
    import asyncio
    import threading

    started, files_seen = threading.Event(), []

    def indexer(notes_dir, data_dir, progress, **kw):
        started.set()
        for i in range(200):  # a long folder: one file every 50 ms
            threading.Event().wait(0.05)
            files_seen.append(i)
            progress(i + 1, 200, f"notes/{i}.md")
        return {"indexed": 200, "removed": 0, "skipped": []}

    app = make_app(retriever_factory=lambda data_dir: None, notes_indexer=indexer)
    async with app.run_test(size=(100, 30)) as pilot:
        while not started.is_set():
            await pilot.pause(0.05)
    # The app has exited: the indexer must stop too, not go on embedding in the background
    # (a real exit waits for worker threads, so the terminal would hang until it finished).
    await asyncio.sleep(0.3)
    seen = len(files_seen)
    await asyncio.sleep(0.3)
    assert len(files_seen) == seen < 200


async def test_a_first_answer_before_the_model_is_ready_still_indexes_the_notes(make_app):
    """A student who answers at once: the answer's worker wakes the moment the model loads
    and opens the retriever (no index yet) before the app hears that the model is ready. The
    first-run indexing must still start, or the notes are never indexed."""
    import threading

    gate, indexed = threading.Event(), []

    def slow_factory(name, models_dir, n_ctx):
        gate.wait(10)
        return FakeEngine(n_ctx=n_ctx)

    def indexer(notes_dir, data_dir, progress, **kw):
        indexed.append(notes_dir)
        return {"indexed": 1, "removed": 0, "skipped": []}

    app = make_app(factory=slow_factory, retriever_factory=lambda data_dir: None, notes_indexer=indexer)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.notes.retriever() is None  # what the answer's worker does first
        gate.set()
        await settle(app, pilot, 0.1)
        assert app.model_state == "ready"
        assert indexed == [DATA / "notes"]


async def test_answering_while_the_notes_index_does_not_stop_the_indexing(make_app):
    """Each new answer stops the previous answer's worker, and only that: a widget's
    ``workers`` is the whole app's manager, and cancelling all of it once stopped the
    first-run indexing, so a student who answered at once never got an index."""
    import threading

    running, release, outcome = threading.Event(), threading.Event(), []

    def indexer(notes_dir, data_dir, progress, should_stop=lambda: False, **kw):
        running.set()
        while not release.wait(0.02):
            if should_stop():
                outcome.append("stopped")
                return {"indexed": 0, "removed": 0, "skipped": []}
        outcome.append("finished")
        return {"indexed": 1, "removed": 0, "skipped": []}

    app = make_app(retriever_factory=lambda data_dir: None, notes_indexer=indexer)
    async with app.run_test(size=(100, 30)) as pilot:
        while not running.is_set():
            await pilot.pause(0.05)
        async def answers_done():  # settle() would wait for the indexer too
            for _ in range(200):
                if not any(w.group == "inference" and w.is_running for w in app.workers):
                    return
                await pilot.pause(0.05)

        await pilot.press("b")  # answer: starts the model's worker on the answer panel
        await answers_done()
        await pilot.press("n", "a")  # and the next one, whose start resets the panel
        await answers_done()
        assert outcome == []  # still indexing
        release.set()
        await settle(app, pilot, 0.1)
        assert outcome == ["finished"]


async def test_the_notes_screen_follows_a_first_run_index_instead_of_reading_it_half_built(make_app, monkeypatch):
    """F5 during the first index showed "Index ready, files: 0" (or "damaged") for the whole
    session, while the status bar said RAG on."""
    indexer, started, release, built = gated_indexer()
    reads = []

    class Service:
        @staticmethod
        def index_status(data_dir):
            reads.append(len(built))
            return {"exists": bool(built), "files": 2 * len(built), "chunks": 9 * len(built)}

        build_index = None

    monkeypatch.setattr(notes_screen, "rag_service", lambda: Service)
    app = make_app(notes_indexer=indexer)
    async with app.run_test(size=(100, 30)) as pilot:
        while not started.is_set():
            await pilot.pause(0.05)
        await pilot.press("f5")
        await pilot.pause(0.2)
        status = lambda: str(app.screen.query_one("#index-status", Static).render())  # noqa: E731
        assert "Indexing your notes in the background" in status() and reads == []  # not read half-built
        release.set()
        await settle(app, pilot, 0.2)
        assert "Index ready" in status() and "files: 2" in status()
