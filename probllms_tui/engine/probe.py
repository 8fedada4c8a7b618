"""Open an unknown GGUF in a child process first, so a file that crashes llama.cpp cannot
take the app (or the CLI) down with it.

llama.cpp aborts the whole process on some files (a C++ exception that escapes, a failed
GGML_ASSERT): no Python error, the TUI just vanishes. ``gguf_check`` catches the causes we
know from the header; this catches the rest by loading the model and evaluating one token
in a throwaway process. The verdict is kept per path, size and modification time (and
llama.cpp version), so a file is probed once, not on every start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from probllms_tui.core.errors import ModelLoadError, one_line

PROBE_CACHE = "model-probes.json"
PROBE_TIMEOUT_S = 300  # a large model on a slow disk; a hang is reported, not cached
_OK = "PROBE-OK"

# The child imports llama_cpp only (not this package): what it runs is exactly a load and
# one decoded token. verbose=True so llama.cpp's own error lines reach our stderr pipe.
_CHILD = r"""
import os, sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=64, n_batch=32, n_threads=1, n_threads_batch=1,
            verbose=True)
llm.eval(llm.tokenize(b"Hello", add_bos=True)[:8])
print("PROBE-OK", flush=True)
os._exit(0)  # skip teardown: the verdict is in, and Llama.__del__ only adds noise
"""

# llama.cpp log lines that say why a load failed, most telling first.
_REASON_MARKERS = ("what():", "GGML_ASSERT", "error loading model", "unknown model architecture",
                   "error:", "failed", "exception")


def _llama_version() -> str:
    try:
        from importlib.metadata import version

        return version("llama_cpp_python")
    except Exception:  # pragma: no cover - metadata missing on an odd install
        return "?"


def _reason(stderr: str) -> str:
    lines = [l.strip() for l in stderr.splitlines() if l.strip()]
    for marker in _REASON_MARKERS:
        hits = [l for l in lines if marker.lower() in l.lower()]
        if hits:
            # "llama_model_load: error loading model: X" -> "X"
            return one_line(hits[-1].rpartition("error loading model:")[2].strip() or hits[-1], 160)
    return one_line(lines[-1], 160) if lines else "no message"


def _no_core_dump() -> None:
    # An abort would otherwise write a core file the size of the mapped model (and take
    # seconds doing it) for a crash we expect and report.
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_probe(path: Path, timeout: float = PROBE_TIMEOUT_S) -> str:
    """Load ``path`` in a child process; return '' if it loads, else why not (one line)."""
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL,
                              preexec_fn=_no_core_dump if os.name == "posix" else None)
    except subprocess.TimeoutExpired:
        raise ModelLoadError(f"llama.cpp took over {timeout:.0f} s to open {path.name}; "
                             "not loaded (try again when the machine is less busy)") from None
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode == 0 and _OK in out:
        return ""
    if proc.returncode < 0:
        try:
            sig = signal.Signals(-proc.returncode).name
        except ValueError:
            sig = f"signal {-proc.returncode}"
        return f"llama.cpp crashed opening it ({sig}): {_reason(err)}"
    return f"llama.cpp could not open it: {_reason(err)}"


class ProbeCache:
    """Verdicts by absolute path, valid while size, mtime and llama.cpp version match."""

    def __init__(self, folder: Path | None):
        self.file = Path(folder) / PROBE_CACHE if folder is not None else None

    @staticmethod
    def _key(path: Path) -> tuple[str, dict]:
        st = path.stat()
        return str(path.resolve()), {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                     "llama_cpp": _llama_version()}

    def _load(self) -> dict:
        if self.file is None or not self.file.is_file():
            return {}
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}  # a damaged cache only costs a probe

    def get(self, path: Path) -> str | None:
        key, stamp = self._key(path)
        hit = self._load().get(key)
        if isinstance(hit, dict) and all(hit.get(k) == v for k, v in stamp.items()):
            return str(hit.get("problem", ""))
        return None

    def put(self, path: Path, problem: str) -> None:
        if self.file is None:
            return
        key, stamp = self._key(path)
        data = self._load()
        data[key] = {**stamp, "problem": problem}
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".probes.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1)
            os.replace(tmp, self.file)
        except OSError:
            pass  # a read-only data dir: the probe runs again next time, nothing worse


def default_cache() -> ProbeCache:
    from probllms_tui.core.paths import data_dir

    return ProbeCache(data_dir())


def cached_problem(path: str | Path, cache: ProbeCache | None = None) -> str | None:
    """The stored verdict for ``path`` ('' = loads fine), None if never probed."""
    try:
        return (cache or default_cache()).get(Path(path))
    except OSError:
        return None


def ensure_loadable(path: str | Path, *, cache: ProbeCache | None = None,
                    timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise ModelLoadError (one line) unless ``path`` opened cleanly in a child process."""
    p = Path(path)
    cache = cache or default_cache()
    problem = cache.get(p)
    if problem is None:
        problem = run_probe(p, timeout)
        cache.put(p, problem)
    if problem:
        raise ModelLoadError(f"{p.name}: {problem}")
