"""Start-up time of `probllms-tui` to its first frame, against a minimal Textual app.

Each run is a fresh interpreter (imports included, as a student waits for them): the parent
notes the wall clock, the child starts the app headless, and on its first refresh prints the
wall clock and exits. The goal is a first interactive frame within 1.5 s; the minimal app is
the floor Textual itself sets on this machine, measured in the same run.

    python benchmarks/tui_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

MINIMAL = """
import sys, time
from textual.app import App
from textual.widgets import Static
class Minimal(App):
    def compose(self):
        yield Static("hello")
    def on_mount(self):
        self.call_after_refresh(self.first_frame)
    def first_frame(self):
        print(time.time(), flush=True)
        self.exit()
Minimal().run(headless=True)
"""

PROBLLMS = """
import sys, time
from pathlib import Path
import probllms_tui.cli.main  # the real entry point's imports (typer, subcommands) count too
from probllms_tui.app.app import ProbLLMsApp
from probllms_tui.app.config import AppConfig
class Timed(ProbLLMsApp):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(self.first_frame)
    def first_frame(self):
        print(time.time(), flush=True)
        print(",".join(m for m in ("llama_cpp", "chromadb", "torch", "sentence_transformers")
                       if m in sys.modules), flush=True)
        self.exit()
Timed(AppConfig(data_dir=Path(sys.argv[1]))).run(headless=True)
"""


def time_to_first_frame(code: str, *args: str) -> tuple[float, str]:
    start = time.time()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    lines = out.stdout.split("\n")
    if out.returncode != 0 or not lines[0]:
        raise SystemExit(f"child failed: {out.stderr[-2000:]}")
    heavy = lines[1] if len(lines) > 1 else ""
    return float(lines[0]) - start, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    minimal, app, heavy = [], [], set()
    with tempfile.TemporaryDirectory() as home:
        time_to_first_frame(PROBLLMS, home)  # warm the OS file cache once, like a second start
        for _ in range(args.runs):  # interleaved, so machine load hits both alike
            minimal.append(time_to_first_frame(MINIMAL)[0])
            seconds, loaded = time_to_first_frame(PROBLLMS, home)
            app.append(seconds)
            heavy.update(filter(None, loaded.split(",")))
    m, a = statistics.median(minimal), statistics.median(app)
    print(f"runs: {args.runs} each (median, min-max)")
    print(f"minimal Textual app : {m:.2f} s ({min(minimal):.2f}-{max(minimal):.2f})")
    print(f"probllms-tui        : {a:.2f} s ({min(app):.2f}-{max(app):.2f})")
    print(f"ratio               : {a / m:.2f}x the minimal app; goal: first frame <= 1.5 s "
          f"-> {'met' if a <= 1.5 else 'NOT met'}")
    print(f"heavy modules loaded before the first frame: {', '.join(sorted(heavy)) or 'none'}")


if __name__ == "__main__":
    main()
