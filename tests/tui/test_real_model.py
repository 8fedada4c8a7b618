"""One end-to-end run of the app on the embedded default GGUF (real llama.cpp, no fakes)."""

from __future__ import annotations

import pytest
from tui_support import settle
from textual.widgets import Markdown, Static


class Borrowed:
    """The session's engine lent to the app, which must not close it."""

    def __init__(self, engine):
        self._engine = engine

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def close(self) -> None:
        pass


@pytest.mark.slow
async def test_practice_answer_with_the_real_default_model(make_app, default_engine):
    app = make_app(factory=lambda name, models_dir, n_ctx: Borrowed(default_engine), rag=False)
    app.settings = app.settings.updated({"max_tokens": 24})
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert default_engine.name in app.status_text
        n = default_engine.threads[1]  # chosen at open
        assert f"· {n} thread{'' if n == 1 else 's'} " in app.status_text
        await pilot.press("c")
        await settle(app, pilot, 0.1)
        pick = str(app.screen.query_one("#pick", Static).render())
        assert pick.startswith("Model picks "), pick
        probabilities = [float(p) for p in pick.split("(")[1].split("%")[0:1]]
        assert 0 < probabilities[0] <= 100
        assert len(app.screen.query_one("#explanation", Markdown).source) > len("**Explanation:** ")
        assert app.tokens_per_s > 0
        assert app.store.con.execute("SELECT model_answer FROM answers").fetchone()[0] in "ABCD"
