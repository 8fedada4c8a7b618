"""Models: the registry's GGUF files, switching between them, and the generation settings.

Reading the registry touches every GGUF header, so it runs in a worker too; loading a model
shows an indeterminate progress bar (llama.cpp reports no load fraction through our engine).
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, ProgressBar, Static, Checkbox

from probllms_tui.app.widgets.mode_bar import ModeBar
from probllms_tui.app.widgets.status_bar import StatusBar
from probllms_tui.core.errors import one_line
from probllms_tui.core.registry import human_size
from probllms_tui.store import Settings
from probllms_tui.store.settings import SETTING_LABELS, SettingError

NUMERIC = ("temperature", "max_tokens", "context_length", "k")


def list_models(models_dir) -> list[dict]:
    from probllms_tui.core.paths import models_dir as resolve_models_dir
    from probllms_tui.core.registry import Registry, default_model_path

    reg = Registry(resolve_models_dir(models_dir))
    rows = []
    for e in reg.entries():
        path = default_model_path() if e.builtin else e.path(reg.models_dir)
        size = path.stat().st_size if path.exists() else 0
        rows.append({"name": e.name, "quantization": e.quantization or "?", "size": size,
                     "base": e.base_model or "-", "missing": not path.exists(),
                     "load": "" if e.builtin else e.name})
    return rows


class ModelsScreen(Screen):
    BINDINGS = [Binding("ctrl+s", "save", "Save settings", priority=True),
                Binding("f6", "refresh", "Refresh list")]

    def compose(self) -> ComposeResult:
        yield ModeBar("models")
        with VerticalScroll(id="models-main"):
            yield Static("Models (Enter loads the highlighted one)", classes="title")
            yield DataTable(id="model-table", cursor_type="row")
            with Horizontal(id="load-row"):
                yield Static("", id="load-state")
                yield ProgressBar(id="load-progress", total=None, show_eta=False, show_percentage=False)
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
        table.add_columns("", "Name", "Quant", "Size", "Base model")
        table.focus()
        self._rows: list[dict] = []
        self._fill_settings(self.app.settings)
        self.watch(self.app, "model_state", self._show_load_state)
        self.action_refresh()

    def _fill_settings(self, s: Settings) -> None:
        for key in NUMERIC:
            self.query_one(f"#set-{key}", Input).value = str(getattr(s, key))
        self.query_one("#set-rag", Checkbox).value = s.rag

    def _show_load_state(self, state: str) -> None:
        app = self.app
        if self._rows:
            self._show_rows(self._rows)  # move the ● to the model now loaded
        bar = self.query_one("#load-progress", ProgressBar)
        bar.display = state == "loading"
        if state == "loading":
            text = Text(f"Loading {app.model_label}…", style="yellow")
        elif state == "failed":
            text = Text(f"✗ {app.engine_error}", style="red")
        else:
            text = Text(f"✓ Loaded {app.model_label}", style="green")
        self.query_one("#load-state", Static).update(text)

    # --- the registry -------------------------------------------------------------------
    def action_refresh(self) -> None:
        self._list_worker()

    @work(thread=True, exclusive=True, group="registry", exit_on_error=False)
    def _list_worker(self) -> None:
        try:
            rows = list_models(self.app.config.models_dir)
        except Exception as exc:  # a broken manifest.json: say where, keep the screen usable
            self.app.from_thread(self.notify, f"Model registry: {one_line(exc)}", severity="error")
            rows = []
        self.app.from_thread(self._show_rows, rows)

    def _show_rows(self, rows: list[dict]) -> None:
        self._rows = rows
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for r in rows:
            size = "missing" if r["missing"] else human_size(r['size'])
            active = "●" if self.app.engine is not None and self.app.engine.name == r["name"] else ""
            table.add_row(active, r["name"], r["quantization"], size, r["base"])
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if not 0 <= event.cursor_row < len(self._rows):
            return
        row = self._rows[event.cursor_row]
        if row["missing"]:
            self.notify(f"{row['name']}: the model file is missing", severity="error")
            return
        self.app.choose_model(row["load"])

    # --- settings -----------------------------------------------------------------------
    def action_save(self) -> None:
        values: dict[str, object] = {"rag": self.query_one("#set-rag", Checkbox).value}
        for key in NUMERIC:
            values[key] = self.query_one(f"#set-{key}", Input).value.strip()
        error = self.query_one("#settings-error", Static)
        try:
            settings = self.app.settings.updated(values)
        except SettingError as exc:
            error.update(Text(f"✗ {exc}", style="red"))
            return
        error.update("")
        self.app.apply_settings(settings)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save-settings":
            self.action_save()
