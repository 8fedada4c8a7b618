"""`probllms-tui models pull`: one GGUF from the Hugging Face hub into the models dir, verified.

The hub records each LFS file's size and sha256; a download is registered only once both
match, so a cut connection or a tampered mirror leaves no half model in the registry. The
file is checked like any other (header, then a child-process load) before it is registered.
Every failure is one line: offline, unknown repository, no such file, no space, mismatch.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from probllms_tui.core.errors import InputError, ModelLoadError, one_line
from probllms_tui.core.registry import ModelEntry, Registry, sha256_file

_LATER_SHARD = re.compile(r"-(\d{5})-of-\d{5}\.gguf$")
PREFERRED_QUANT = "q4_k_m"  # the quantization the project measures and ships by default


def _hub_error(exc: Exception, repo: str) -> ModelLoadError:
    """One line for whatever huggingface_hub raised."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, OfflineModeIsEnabled) or constants.is_offline_mode():
        return ModelLoadError("cannot pull while offline mode is on (HF_HUB_OFFLINE=1)")
    if isinstance(exc, RepositoryNotFoundError):
        return ModelLoadError(f"no repository {repo!r} on {constants.ENDPOINT} (or it is private)")
    if isinstance(exc, RevisionNotFoundError):
        return ModelLoadError(f"{repo}: no such revision")
    if isinstance(exc, EntryNotFoundError):
        return ModelLoadError(f"{repo}: no such file")
    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        return ModelLoadError(f"{constants.ENDPOINT} answered HTTP {status} for {repo}")
    return ModelLoadError(f"cannot reach {constants.ENDPOINT} ({type(exc).__name__}: "
                          f"{one_line(exc, 100)}); are you offline?")


def choose_file(repo: str, files: list[str], wanted: str | None) -> str:
    ggufs = [f for f in files if f.lower().endswith(".gguf")]
    if wanted is not None:
        if wanted not in files:
            hint = f"; its GGUF files: {', '.join(ggufs[:6])}" if ggufs else "; it has no .gguf file"
            raise InputError(f"{repo} has no file {wanted!r}{hint}")
        if not wanted.lower().endswith(".gguf"):
            raise InputError(f"{wanted!r} is not a .gguf file")
        return wanted
    models = [f for f in ggufs if "mmproj" not in f.lower() and not (
        (m := _LATER_SHARD.search(f)) and int(m.group(1)) > 1)]
    if len(models) == 1:
        return models[0]
    preferred = [f for f in models if PREFERRED_QUANT in f.lower()]
    if len(preferred) == 1:
        return preferred[0]
    if not models:
        raise InputError(f"{repo} has no .gguf file")
    raise InputError(f"{repo} has {len(models)} GGUF files; name one: {', '.join(models[:6])}")


def pull_model(repo: str, file: str | None, *, name: str | None = None, revision: str | None = None,
               models_dir: Path) -> ModelEntry:
    from huggingface_hub import HfApi, hf_hub_download

    from probllms_tui.core.register import checked_entry

    try:
        info = HfApi().model_info(repo, revision=revision, files_metadata=True)
    except Exception as exc:  # every hub and network error becomes one line
        raise _hub_error(exc, repo) from None
    siblings = {s.rfilename: s for s in info.siblings or []}
    filename = choose_file(repo, list(siblings), file)
    sibling = siblings[filename]
    expected_sha = sibling.lfs.sha256 if sibling.lfs else ""
    expected_size = sibling.lfs.size if sibling.lfs else sibling.size
    if not expected_sha:
        raise ModelLoadError(f"{repo}/{filename}: the hub records no sha256 for it; not downloaded")
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(models_dir).free
    if expected_size and expected_size > free:
        raise ModelLoadError(f"{filename} needs {expected_size / 2**30:.1f} GiB; "
                             f"{models_dir} has {free / 2**30:.1f} GiB free")
    try:
        # Pinned to the commit just listed, so the file and its recorded hash belong together.
        local = Path(hf_hub_download(repo, filename, revision=info.sha, local_dir=models_dir))
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        raise _hub_error(exc, repo) from None
    size = local.stat().st_size
    if expected_size and size != expected_size:
        local.unlink(missing_ok=True)
        raise ModelLoadError(f"{filename}: downloaded {size:,} bytes, the hub records {expected_size:,}; removed")
    actual_sha = sha256_file(local)
    if actual_sha != expected_sha:
        local.unlink(missing_ok=True)
        raise ModelLoadError(f"{filename}: sha256 {actual_sha[:12]}… does not match the hub's "
                             f"{expected_sha[:12]}…; removed")
    entry = checked_entry(local, name=name or Path(filename).stem, scoring=None,
                          file=os.path.relpath(local, models_dir), base_model=repo, sha256=actual_sha)
    Registry(models_dir).register(entry)
    return entry
