"""Models: every GGUF on disk (the registry's and other tools'), switching between them, adding
one by path, and the generation settings.

Reading the list touches every GGUF header, so it runs in a worker; so does the check before
a load (header, then a child-process probe: engine/probe.py), because a model that aborts
llama.cpp must cost a one-line notice, not the app. Loading shows an indeterminate progress
bar (llama.cpp reports no load fraction through our engine).
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, ProgressBar, Static, Checkbox

from probllms_tui.app.access import probllms_app
from probllms_tui.app.widgets.mode_bar import ModeBar
from probllms_tui.app.widgets.status_bar import StatusBar
from probllms_tui.core.errors import one_line
from probllms_tui.core.registry import human_size
from probllms_tui.store import Settings
from probllms_tui.store.settings import SETTING_LABELS, SettingError

NUMERIC = ("temperature", "max_tokens", "context_length", "k")
BENCH_QUESTIONS = 100  # a short benchmark: enough to tell a 25% model from a 50% one


def list_models(models_dir, data_dir=None) -> list[dict]:
    """The catalog's rows (core/catalog.py) plus what the table and a load need."""
    from probllms_tui.core.catalog import catalog
    from probllms_tui.core.paths import models_dir as resolve_models_dir

    rows = catalog(resolve_models_dir(models_dir), data_dir=data_dir)
    for r in rows:
        r["load"] = "" if r["default"] else r["name"]  # "" = the default model
    return rows


def params_text(row: dict) -> str:
    from probllms_tui.core.catalog import params_label

    return params_label(row.get("parameters") or 0, row.get("size_label") or "")


def measured_text(row: dict) -> tuple[str, str]:
    m = row.get("measured") or {}
    acc = f"{m['accuracy']:.0%}" if isinstance(m.get("accuracy"), (int, float)) else "-"
    spq = f"{m['seconds_per_question']:.1f}" if isinstance(m.get("seconds_per_question"), (int, float)) else "-"
    return acc, spq


def calibration_text(row: dict) -> Text:
    """ECE on the set it was measured on, or a plain "no" (the app says how to fix it once the
    model is loaded, and `probllms-tui models --json` carries the command)."""
    c = row.get("calibration") or {}
    if not c.get("calibrated"):
        return Text("no", style="yellow")
    return Text(f"ECE {c['ece']:.2f}" if isinstance(c.get("ece"), (int, float)) else "yes")


def preflight(name: str, models_dir) -> None:
    """Raise ModelLoadError (one line) unless ``name`` resolves and llama.cpp can open it."""
    from probllms_tui.core.paths import models_dir as resolve_models_dir
    from probllms_tui.core.registry import Registry
    from probllms_tui.engine.gguf_check import inspect_gguf
    from probllms_tui.engine.probe import ensure_loadable

    entry, path = Registry(resolve_models_dir(models_dir)).resolve(name or None)
    if not entry.builtin:
        inspect_gguf(path)
        ensure_loadable(path)


class ModelsScreen(Screen):
    BINDINGS = [Binding("ctrl+s", "save", "Save settings", priority=True),
                Binding("f6", "refresh", "Refresh list"),
                Binding("ctrl+b", "benchmark", "Benchmark loaded model", priority=True)]

    def compose(self) -> ComposeResult:
        yield ModeBar("models")
        with VerticalScroll(id="models-main"):
            yield Static("Models (Enter loads the highlighted one)", classes="title")
            yield DataTable(id="model-table", cursor_type="row")
            yield Input(placeholder="Add a model: path to a .gguf file, then Enter", id="add-path",
                        compact=True)
            with Horizontal(id="load-row"):
                yield Static("", id="load-state")
                yield ProgressBar(id="load-progress", total=None, show_eta=False, show_percentage=False)
            with Horizontal(id="bench-row"):
                yield Static("", id="bench-state")
                yield ProgressBar(id="bench-progress", total=BENCH_QUESTIONS, show_eta=True)
            yield Static("Settings", classes="title")
            with Grid(id="settings-grid"):
                for key in NUMERIC:
                    yield Static(SETTING_LABELS[key], classes="label")
                    yield Input(id=f"set-{key}", type="number" if key == "temperature" else "integer",
                                compact=True)
                yield Static(SETTING_LABELS["rag"], classes="label")
                yield Checkbox("on", id="set-rag", compact=True)
            yield Static("", id="settings-error")
            yield Button("Save settings (ctrl+s)", id="save-settings", variant="primary", compact=True)
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "Name", "Source", "Arch", "Params", "Quant", "Size", "Acc", "s/q", "Calibrated", "Note")
        table.focus()
        self._rows: list[dict] = []
        app = probllms_app(self)
        self._fill_settings(app.settings)
        self.watch(app, "model_state", self._show_load_state)
        self.query_one("#bench-row").display = False
        self.action_refresh()

    def _fill_settings(self, s: Settings) -> None:
        for key in NUMERIC:
            self.query_one(f"#set-{key}", Input).value = str(getattr(s, key))
        self.query_one("#set-rag", Checkbox).value = s.rag

    def _show_load_state(self, state: str) -> None:
        models = probllms_app(self).models
        if self._rows:
            self._show_rows(self._rows)  # move the ● to the model now loaded
        bar = self.query_one("#load-progress", ProgressBar)
        bar.display = state == "loading"
        if state == "loading":
            text = Text(f"Loading {models.label}…", style="yellow")
        elif state == "failed":
            text = Text(f"✗ {models.error}", style="red")
        else:
            text = Text(f"✓ Loaded {models.label}", style="green")
        self.query_one("#load-state", Static).update(text)

    # --- the registry -------------------------------------------------------------------
    def action_refresh(self) -> None:
        self._list_worker()

    @work(thread=True, exclusive=True, group="registry", exit_on_error=False)
    def _list_worker(self) -> None:
        app = probllms_app(self)
        try:
            rows = list_models(app.config.models_dir, app.config.data_dir)
        except Exception as exc:  # a broken manifest.json: say where, keep the screen usable
            app.from_thread(self.notify, f"Model registry: {one_line(exc)}", severity="error")
            rows = []
        app.from_thread(self._show_rows, rows)

    def _show_rows(self, rows: list[dict]) -> None:
        self._rows = rows
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        engine = probllms_app(self).models.engine
        for r in rows:
            size = human_size(r["size_bytes"]) if r["size_bytes"] else "-"
            active = "●" if engine is not None and engine.name == r["name"] else ""
            acc, spq = measured_text(r)
            note = Text(one_line(r["problem"], 60), style="red") if r["problem"] else (
                "chat" if r["chat_template"] else "")
            table.add_row(active, r["name"], r["source"], r["architecture"] or "?", params_text(r),
                          r["quantization"] or "?", size, acc, spq, calibration_text(r), note)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if not 0 <= event.cursor_row < len(self._rows):
            return
        row = self._rows[event.cursor_row]
        if row["problem"]:
            self.notify(f"{row['name']} cannot be used: {one_line(row['problem'], 160)}", severity="error")
            return
        self._preflight_worker(row["load"])

    @work(thread=True, exclusive=True, group="preflight", exit_on_error=False)
    def _preflight_worker(self, name: str) -> None:
        # Checked before the current model is closed: a bad pick keeps the model in use.
        app = probllms_app(self)
        app.from_thread(self.query_one("#load-state", Static).update,
                        Text(f"Checking {name or 'the default model'}…", style="yellow"))
        try:
            preflight(name, app.config.models_dir)
        except Exception as exc:
            app.from_thread(self._preflight_failed, name, one_line(exc))
            return
        app.from_thread(app.choose_model, name)

    def _preflight_failed(self, name: str, message: str) -> None:
        self.notify(f"Not loaded: {message}", severity="error", timeout=12)
        self.query_one("#load-state", Static).update(Text(f"✗ {message}", style="red"))
        self.action_refresh()  # the probe's verdict now shows in the list

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "add-path" and event.value.strip():
            self._add_worker(event.value.strip())

    @work(thread=True, exclusive=True, group="add", exit_on_error=False)
    def _add_worker(self, path: str) -> None:
        from probllms_tui.core.paths import models_dir as resolve_models_dir
        from probllms_tui.core.register import add_model

        app = probllms_app(self)
        try:
            entry = add_model(path, models_dir=resolve_models_dir(app.config.models_dir))
        except Exception as exc:
            app.from_thread(self.notify, f"Not added: {one_line(exc)}", severity="error", timeout=12)
            return
        app.from_thread(self.notify, f"Added {entry.name}: Enter on its row loads it")
        app.from_thread(self.query_one("#add-path", Input).clear)
        app.from_thread(self.action_refresh)

    # --- a short benchmark of the loaded model -----------------------------------------
    def action_benchmark(self) -> None:
        running = [w for w in self.workers if w.group == "bench" and w.is_running]
        if running:  # the same key stops it
            for w in running:
                w.cancel()
            return
        questions = [q for q in probllms_app(self).bank.questions if q.answer is not None][:BENCH_QUESTIONS]
        if not questions:
            self.notify("No questions with known answers in the bank to benchmark on", severity="warning")
            return
        bar = self.query_one("#bench-progress", ProgressBar)
        bar.update(total=len(questions), progress=0)
        bar.display = True
        self.query_one("#bench-row").display = True
        self.query_one("#bench-state", Static).update(
            f"Benchmark: {len(questions)} questions of the bank (ctrl+b stops) ")
        self._bench_worker(questions)

    @work(thread=True, exclusive=True, group="bench", exit_on_error=False)
    def _bench_worker(self, questions) -> None:
        import time

        from textual.worker import get_current_worker

        from probllms_tui.core.catalog import save_measurement

        app = probllms_app(self)
        worker = get_current_worker()
        bar = self.query_one("#bench-progress", ProgressBar)
        correct, done, name, t0 = 0, 0, "", time.perf_counter()
        # Holds the model between questions only, so practice and ask can still get a turn.
        for q in questions:
            with app.models.session(lambda: worker.is_cancelled) as engine:
                if engine is None:
                    break
                name = engine.name
                try:
                    result = engine.score(q)
                except Exception as exc:  # e.g. a question longer than the context
                    app.from_thread(self._bench_done, f"Benchmark failed: {one_line(exc)}")
                    return
            correct += result.answer == q.answer
            done += 1
            app.from_thread(bar.update, progress=done)
        elapsed = time.perf_counter() - t0
        if done < len(questions):
            why = "stopped" if worker.is_cancelled else app.models.problem()
            so_far = f" ({correct}/{done} right so far; not saved)" if done else ""
            app.from_thread(self._bench_done, f"Benchmark {why} after {done} question{'' if done == 1 else 's'}{so_far}")
            return
        figures = {"accuracy": correct / done, "seconds_per_question": elapsed / done,
                   "questions": done, "bank": "current bank"}
        try:
            save_measurement(app.config.data_dir, name, figures)
        except OSError as exc:
            app.from_thread(self.notify, f"Benchmark not saved: {one_line(exc)}", severity="warning")
        app.from_thread(self._bench_done, f"{name}: {correct}/{done} right "
                        f"({correct / done:.0%}), {elapsed / done:.1f} s per question")

    def _bench_done(self, message: str) -> None:
        self.query_one("#bench-progress", ProgressBar).display = False
        self.query_one("#bench-state", Static).update(message)
        self.notify(message)
        self.action_refresh()

    # --- settings -----------------------------------------------------------------------
    def action_save(self) -> None:
        values: dict[str, object] = {"rag": self.query_one("#set-rag", Checkbox).value}
        for key in NUMERIC:
            values[key] = self.query_one(f"#set-{key}", Input).value.strip()
        error = self.query_one("#settings-error", Static)
        app = probllms_app(self)
        try:
            settings = app.settings.updated(values).checked_together()
        except SettingError as exc:
            error.update(Text(f"✗ {exc}", style="red"))
            return
        error.update("")
        app.apply_settings(settings)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save-settings":
            self.action_save()
