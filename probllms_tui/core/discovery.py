"""GGUF models the student already has on disk, from other local-LLM tools, used in place.

A 1-5 GB model is never copied: each source is read where it lies and named by where it
came from, so ``--model ollama:qwen2.5:1.5b`` reads Ollama's own blob.

- ``ollama:``   Ollama's store ($OLLAMA_MODELS, else ~/.ollama/models, else the Linux
  service's /usr/share/ollama/.ollama/models): a manifest per
  ``manifests/<host>/<namespace>/<model>/<tag>`` whose layer of media type
  ``application/vnd.ollama.image.model`` names the GGUF blob ``blobs/sha256-<hex>``.
- ``lmstudio:`` LM Studio's folder (~/.lmstudio/models, older ~/.cache/lm-studio/models):
  ``<publisher>/<repo>/<file>.gguf``.
- ``hf:``       the Hugging Face hub cache ($HF_HUB_CACHE, else $HF_HOME/hub, else
  ~/.cache/huggingface/hub): ``models--<org>--<repo>/snapshots/<revision>/**.gguf``.
- ``gpt4all:``  GPT4All's model folder (per platform, below).

``$PROBLLMS_DISCOVER`` narrows the search to some sources ("ollama,hf") or turns it off
("off"). Listing reads GGUF headers only (no hashing, no llama.cpp) and never fails as a whole: an
entry that cannot be used is listed with the reason.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from probllms_tui.core.errors import ModelLoadError

SOURCES = ("ollama", "lmstudio", "hf", "gpt4all")
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_DEFAULT_HOST = "registry.ollama.ai"
# Shards after the first of a split GGUF ("-00002-of-00003.gguf"): llama.cpp opens the
# first shard and finds the rest itself, so only the first is a model to pick.
_LATER_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")
# Files that are GGUF but not language models: vision projectors shipped beside them.
_NOT_A_LANGUAGE_MODEL = {"clip", "mmproj"}


@dataclass
class FoundModel:
    source: str  # one of SOURCES
    name: str  # "<source>:<name within the source>", what --model accepts
    path: str
    size_bytes: int = 0
    architecture: str = ""
    parameters: int = 0  # weights counted from the tensor table
    size_label: str = ""  # general.size_label when the file has it ("1.5B")
    quantization: str = ""
    context_length: int = 0
    chat_template: bool = False
    problem: str = ""  # why it cannot be used; "" when it can

    @property
    def usable(self) -> bool:
        return not self.problem

    def to_json(self) -> dict:
        return {**asdict(self), "usable": self.usable}


# --- where each tool keeps its models --------------------------------------------------
def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


# Linux installs of Ollama run it as a system user whose store is here, not under $HOME.
OLLAMA_SERVICE_STORE = Path("/usr/share/ollama/.ollama/models")


def ollama_root(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("OLLAMA_MODELS"):
        return Path(env["OLLAMA_MODELS"]).expanduser()
    user = _home(env) / ".ollama" / "models"
    if not user.is_dir() and sys.platform.startswith("linux") and OLLAMA_SERVICE_STORE.is_dir():
        return OLLAMA_SERVICE_STORE
    return user


def lmstudio_roots(env: Mapping[str, str] = os.environ) -> list[Path]:
    home = _home(env)
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def hf_hub_root(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    cache = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else _home(env) / ".cache"
    return cache / "huggingface" / "hub"


def gpt4all_root(env: Mapping[str, str] = os.environ) -> Path:
    home = _home(env)
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "nomic.ai" / "GPT4All"
    if sys.platform == "win32":
        return Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "nomic.ai" / "GPT4All"
    data = Path(env["XDG_DATA_HOME"]).expanduser() if env.get("XDG_DATA_HOME") else home / ".local" / "share"
    return data / "nomic.ai" / "GPT4All"


# --- each source: (name, path) pairs, or (name, None, reason) for a broken entry ----------
Candidate = tuple[str, "Path | None", str]


def _ollama(env: Mapping[str, str]) -> Iterator[Candidate]:
    root = ollama_root(env)
    manifests = root / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.glob("*/*/*/*") if p.is_file()):
        host, namespace, model, tag = manifest.relative_to(manifests).parts
        short = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
        name = "ollama:" + (short if host == OLLAMA_DEFAULT_HOST else f"{host}/{namespace}/{model}:{tag}")
        try:
            layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers") or []
            digest = next(l["digest"] for l in layers if l.get("mediaType") == OLLAMA_MODEL_LAYER)
        except StopIteration:
            yield name, None, f"manifest {manifest} has no model layer"
            continue
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            yield name, None, f"unreadable manifest {manifest} ({type(exc).__name__})"
            continue
        algo, _, hexdigest = str(digest).partition(":")
        # Current Ollama writes blobs as sha256-<hex>; early versions kept the colon.
        blob = next((b for b in (root / "blobs" / f"{algo}-{hexdigest}", root / "blobs" / str(digest))
                     if b.exists()), None)
        if blob is None:
            yield name, None, f"blob {algo}-{hexdigest[:12]}… named by {manifest} is missing"
        else:
            yield name, blob, ""


def _gguf_files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        for path in sorted(folder.rglob("*.gguf")):
            m = _LATER_SHARD.search(path.name)
            if m and int(m.group(1)) > 1:
                continue
            yield path


def _lmstudio(env: Mapping[str, str]) -> Iterator[Candidate]:
    seen: set[str] = set()
    for root in lmstudio_roots(env):
        for path in _gguf_files(root):
            rel = path.relative_to(root).as_posix()
            if rel not in seen:  # the newer folder wins over the old one
                seen.add(rel)
                yield f"lmstudio:{rel.removesuffix('.gguf')}", path, ""


def _hf(env: Mapping[str, str]) -> Iterator[Candidate]:
    root = hf_hub_root(env)
    if not root.is_dir():
        return
    for repo in sorted(root.glob("models--*")):
        repo_id = repo.name[len("models--"):].replace("--", "/")
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        # One revision per repo: the one refs/main points at, else the newest snapshot.
        main = repo / "refs" / "main"
        revision = main.read_text(encoding="utf-8").strip() if main.is_file() else ""
        revs = sorted(snapshots.iterdir(), key=lambda d: (d.name != revision, -d.stat().st_mtime))
        seen: set[str] = set()
        for rev in revs:
            for path in _gguf_files(rev):
                rel = path.relative_to(rev).as_posix()
                if rel in seen:
                    continue
                seen.add(rel)
                if not path.exists():  # a snapshot symlink whose blob was deleted
                    yield f"hf:{repo_id}/{rel}", None, f"blob of {path} is missing (dangling link)"
                else:
                    yield f"hf:{repo_id}/{rel}", path, ""


def _gpt4all(env: Mapping[str, str]) -> Iterator[Candidate]:
    root = gpt4all_root(env)
    if root.is_dir():
        for path in sorted(root.glob("*.gguf")):
            yield f"gpt4all:{path.stem}", path, ""


_FINDERS = {"ollama": _ollama, "lmstudio": _lmstudio, "hf": _hf, "gpt4all": _gpt4all}


# --- describing one file ----------------------------------------------------------------
def describe(source: str, name: str, path: Path) -> FoundModel:
    """A FoundModel from the file's GGUF header; a file that cannot load says why."""
    from probllms_tui.core.ftypes import ftype_name
    from probllms_tui.engine.gguf_check import inspect_gguf

    found = FoundModel(source=source, name=name, path=str(path))
    try:
        found.size_bytes = path.stat().st_size
        meta = inspect_gguf(path)
    except ModelLoadError as exc:
        found.problem = exc.message.replace(f": {path}", "").replace(f" {path}", "")
        return found
    except OSError as exc:
        found.problem = f"cannot read it ({exc.strerror})"
        return found
    found.architecture = str(meta.get("general.architecture") or "")
    found.parameters = int(meta.get("_n_params") or 0)
    found.size_label = str(meta.get("general.size_label") or "")
    ftype = meta.get("general.file_type")
    found.quantization = ftype_name(ftype)
    found.context_length = int(meta.get("context_length") or 0)
    found.chat_template = bool(meta.get("tokenizer.chat_template"))
    if found.architecture in _NOT_A_LANGUAGE_MODEL:
        found.problem = f"not a language model ({found.architecture} projector)"
    return found


def enabled_sources(env: Mapping[str, str]) -> tuple[str, ...]:
    """The sources $PROBLLMS_DISCOVER allows (all when unset); unknown names are ignored."""
    wanted = env.get("PROBLLMS_DISCOVER", "").strip().lower()
    if not wanted:
        return SOURCES
    return tuple(s for s in SOURCES if s in {w.strip() for w in wanted.split(",")})


def discover(sources: tuple[str, ...] = SOURCES, env: Mapping[str, str] | None = None) -> list[FoundModel]:
    """Every GGUF found in the given sources, described from its header."""
    env = os.environ if env is None else env
    out: list[FoundModel] = []
    for source in (s for s in sources if s in enabled_sources(env)):
        try:
            candidates = list(_FINDERS[source](env))
        except OSError as exc:  # an unreadable folder hides that source, not the listing
            out.append(FoundModel(source=source, name=f"{source}:?", path="",
                                  problem=f"cannot read its folder ({exc.strerror})"))
            continue
        for name, path, problem in candidates:
            out.append(describe(source, name, path) if path is not None
                       else FoundModel(source=source, name=name, path="", problem=problem))
    return out


def is_discovered_name(name: str) -> bool:
    source, sep, rest = name.partition(":")
    return bool(sep and rest) and source in SOURCES


def find(name: str, env: Mapping[str, str] | None = None) -> FoundModel:
    """The model ``name`` ("ollama:qwen2.5:1.5b", "hf:org/repo/file.gguf", ...) names.

    Only that source is scanned. ``ollama:model`` means ``ollama:model:latest`` (as in
    Ollama), and the ``.gguf`` suffix may be left off.
    """
    source = name.partition(":")[0]
    wanted = {name, name + ".gguf", name.removesuffix(".gguf")}
    if source == "ollama" and name.count(":") == 1:
        wanted.add(name + ":latest")
    matches = [m for m in discover((source,), env) if m.name in wanted]
    if not matches:
        known = [m.name for m in discover((source,), env)]
        hint = f"; found: {', '.join(known[:8])}" if known else f"; no {source} models found"
        raise ModelLoadError(f"unknown model {name!r}{hint}")
    found = matches[0]
    if found.problem:
        raise ModelLoadError(f"{found.name} cannot be used: {found.problem}")
    return found
