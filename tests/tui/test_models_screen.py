"""The Models screen with real files: broken GGUFs picked or added leave the app running."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from tui_support import settle
from fakes import engine_factory

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))

import ggufs  # noqa: E402


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.fixture
def bad_models(tmp_path, monkeypatch) -> dict[str, Path]:
    monkeypatch.setenv("PROBLLMS_HOME", str(tmp_path / "home"))  # where probe verdicts go
    models = tmp_path / "models"
    models.mkdir()
    ok = ggufs.write_gguf(tmp_path / "tiny.gguf")
    return {
        "truncated": ggufs.truncated(ok, models / "truncated.gguf"),
        "three": ggufs.three_token_vocab(models / "three-tokens.gguf"),
        "arch": ggufs.unknown_architecture(tmp_path / "unknown-arch.gguf"),
    }


async def test_picking_or_adding_a_broken_model_keeps_the_app_and_its_model(make_app, bad_models):
    from probllms_tui.app.config import open_real_engine

    factory = engine_factory()

    def real_for_files(name, models_dir, n_ctx):
        # The default stays scripted (fast); any file goes through the real loading path.
        return factory(name, models_dir, n_ctx) if not name else open_real_engine(name, models_dir, n_ctx)

    app = make_app(factory=real_for_files)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        rows = {table.get_row_at(i)[1]: i for i in range(table.row_count)}
        assert set(rows) == {"gemma3-270m-q4_k_m", "truncated", "three-tokens"}
        assert "truncated" in str(table.get_row_at(rows["truncated"])[-1])
        assert "broken vocabulary" in str(table.get_row_at(rows["three-tokens"])[-1])
        for name in ("truncated", "three-tokens"):
            table.focus()
            table.move_cursor(row=rows[name])
            await pilot.press("enter")
            await settle(app, pilot)
            assert any(m.startswith(f"{name} cannot be used") for m in notices(app))
            assert app.model_state == "ready"  # the model in use stays loaded
        # Added by path: the header passes, the probe finds llama.cpp does not know it.
        add = app.screen.query_one("#add-path", Input)
        add.value = str(bad_models["arch"])
        add.focus()
        await pilot.press("enter")
        await settle(app, pilot, 0.2)
        assert any(m.startswith("Not added:") and "frobnicator" in m for m in notices(app))
        # Loaded on demand through the app (what --model or a saved setting does).
        app.load_model(str(bad_models["three"]))
        await settle(app, pilot, 0.2)
        assert app.model_state == "failed" and "broken vocabulary" in app.models.error
        assert "\n" not in app.models.error
        assert app.is_running
        assert all("\n" not in m for m in notices(app))
        assert factory.opened == [(None, 2048)]  # the default was loaded once, at start
        assert "broken vocabulary" in str(app.screen.query_one("#load-state", Static).render())


async def test_benchmark_of_the_loaded_model_shows_in_the_table(make_app, tmp_path):
    from fakes import FakeEngine

    from probllms_tui.core.catalog import load_measurements

    engine = FakeEngine(name="gemma3-270m-q4_k_m")  # scripted: always the last option
    app = make_app(engine=engine)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await settle(app, pilot)
        await pilot.press("ctrl+b")
        await settle(app, pilot, 0.2)
        questions = [q for q in app.bank.questions if q.answer][:100]
        right = sum(q.answer == q.letters[-1] for q in questions)
        saved = load_measurements(tmp_path / "home")["gemma3-270m-q4_k_m"]
        assert saved["questions"] == len(questions) == len(engine.scored)
        assert saved["accuracy"] == pytest.approx(right / len(questions))
        row = app.screen.query_one(DataTable).get_row_at(0)
        assert row[1] == "gemma3-270m-q4_k_m" and row[7] == f"{right / len(questions):.0%}"
        assert f"{right}/{len(questions)} right" in str(app.screen.query_one("#bench-state", Static).render())


async def test_the_benchmark_shows_its_progress_and_a_stop_says_how_far_it_got(make_app):
    """The status text took the whole row and squeezed the progress bar out of sight."""
    import threading

    from fakes import FakeEngine
    from textual.widgets import ProgressBar

    release = threading.Event()

    class Slow(FakeEngine):
        def score(self, q, passages=(), method=None):
            release.wait(5)
            return super().score(q, passages, method)

    app = make_app(engine=Slow())
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await settle(app, pilot)
        await pilot.press("ctrl+b")
        await pilot.pause(0.3)
        bar = app.screen.query_one("#bench-progress", ProgressBar).region
        assert bar.width >= 20 and bar.right <= app.screen.size.width, bar  # on screen, not pushed off it
        await pilot.press("ctrl+b")  # stop while the first question is being scored
        release.set()  # that one finishes; no other starts
        await settle(app, pilot, 0.2)
        state = str(app.screen.query_one("#bench-state", Static).render())
        assert "stopped after 1 question (" in state and "right so far; not saved" in state, state
