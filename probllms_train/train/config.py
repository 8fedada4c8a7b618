"""The training recipe: a pydantic schema split by concern (axolotl-style), loaded from YAML.

A recipe is data, not code (alignment-handbook style: one YAML per experiment). Every check
that can fail (unknown key, wrong type, missing data file) runs here, before any model loads,
and fails as one ``InputError`` line that names the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from probllms_tui.core.errors import InputError, one_line

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ModelSection(_Section):
    """Which base model to adapt. ``source`` says how it is obtained (all offline but ``hf`` ids)."""

    source: Literal["hf", "tiny", "gguf"] = "hf"
    name_or_path: str | None = None  # hf: hub id or local folder
    gguf_file: str | None = None  # gguf: a path, or "default" for the embedded Gemma 270M
    dtype: Literal["bfloat16", "float16", "float32", "auto"] = "bfloat16"
    attn_implementation: str | None = None  # e.g. "flash_attention_2" on the cluster

    @model_validator(mode="after")
    def _needs_what_its_source_needs(self) -> ModelSection:
        if self.source == "hf" and not self.name_or_path:
            raise ValueError("model.name_or_path is required when model.source is 'hf'")
        if self.source == "gguf" and not self.gguf_file:
            raise ValueError("model.gguf_file is required when model.source is 'gguf'")
        return self


class LoraSection(_Section):
    r: int = Field(8, gt=0)
    alpha: int = Field(16, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class DpoSection(_Section):
    """DPO objective and optimisation. Defaults are the ProbLLMs recipe (7B, one GPU)."""

    beta: float = Field(0.05, gt=0)
    loss_type: str = "sigmoid"
    learning_rate: float = Field(5e-4, gt=0)
    lr_scheduler: str = "cosine"
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = Field(0.05, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    # The recipe's batch is the *global* batch: per-device batch x GPUs x accumulation must
    # equal it, so a run on 4 GPUs optimises the same objective as one on 1 GPU.
    batch_size: int = Field(8, gt=0)
    per_device_batch_size: int | None = Field(None, gt=0)
    eval_batch_size: int = Field(8, gt=0)
    max_steps: int = Field(2000, gt=0)
    bf16: bool = True
    optim: str = "paged_adamw_32bit"
    seed: int = 0
    eval_steps: int = Field(100, gt=0)
    save_steps: int = Field(100, gt=0)
    save_total_limit: int | None = Field(None, gt=0)  # None keeps every checkpoint
    max_length: int = Field(1024, gt=8)
    gradient_checkpointing: bool = True
    precompute_ref_log_probs: bool = False


class DataSection(_Section):
    """Preference JSONL (prompt/chosen/rejected). Relative paths: cwd first, then the recipe's folder."""

    train: str
    test: str | None = None  # None: hold out ``test_fraction`` of ``train`` by prompt hash
    test_fraction: float = Field(0.1, gt=0, lt=1)
    sources: list[str] | None = None  # keep only train rows whose "source" is listed
    max_train_pairs: int | None = Field(None, gt=0)
    train_eval_pairs: int = Field(512, gt=0)  # train pairs re-scored at the end for Table 1
    cache_dir: str | None = None  # datasets cache (tokenized data, precomputed ref log-probs)


class LoggingSection(_Section):
    report_to: list[Literal["tensorboard", "wandb", "trackio"]] = ["tensorboard"]
    logging_steps: int = Field(10, gt=0)
    project: str = "probllms"


class Recipe(_Section):
    name: str
    description: str = ""
    model: ModelSection
    lora: LoraSection = LoraSection()
    dpo: DpoSection = DpoSection()
    data: DataSection
    logging: LoggingSection = LoggingSection()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError(f"not valid YAML: {one_line(getattr(exc, 'problem', exc))}", where=where) from None
    if not isinstance(data, dict):
        raise InputError("a recipe must be a YAML mapping of sections", where=str(path))
    return data


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def find_recipe(name_or_path: str) -> Path:
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InputError(f"recipe file not found: {path}")
        return path
    packaged = RECIPES_DIR / f"{name_or_path}.yaml"
    if not packaged.is_file():
        raise InputError(f"unknown recipe {name_or_path!r}; known: {', '.join(recipe_names())} (or a .yaml path)")
    return packaged


def _raw_recipe(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe's mapping with ``inherit: other-recipe`` resolved (one source of truth for shared values)."""
    if path in seen:
        raise InputError("recipe inherits from itself", where=str(path))
    data = _read_yaml(path)
    parent = data.pop("inherit", None)
    if parent is None:
        return data
    parent_path = (find_recipe(str(parent)) if not (path.parent / f"{parent}.yaml").is_file()
                   else path.parent / f"{parent}.yaml")
    base = _anchor_paths(_raw_recipe(parent_path, seen + (path,)), parent_path)
    return _deep_merge(base, data)


# Recipe values that are files, found beside the recipe that names them.
_PATH_KEYS = (("data", "train"), ("data", "test"), ("data", "cache_dir"), ("model", "gguf_file"))


def _anchor_paths(data: dict[str, Any], recipe_path: Path) -> dict[str, Any]:
    """An inherited file path is relative to the recipe that wrote it, not to the child: a
    student's recipe in their own folder inheriting `tiny-cpu` looked for fixtures/ there."""
    for section, key in _PATH_KEYS:
        value = (data.get(section) or {}).get(key)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            beside = recipe_path.parent / value
            if beside.exists():
                data[section][key] = str(beside.resolve())
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``dpo.max_steps=20`` -> (["dpo", "max_steps"], 20); the value is read as YAML (typed)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"override {text!r} is not key=value (e.g. dpo.max_steps=20)")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    data = _deep_merge({}, data)
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise InputError(f"override {text!r}: {k} is not a section")
        node[keys[-1]] = value
    return data


def _describe(exc: ValidationError, source: str) -> InputError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "recipe"
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = f"{key}: unknown key"
    elif kind == "missing":
        msg = f"{key}: required key is missing"
    else:
        msg = f"{key}: {err['msg']} (got {one_line(repr(err.get('input')), 60)})"
    more = len(exc.errors()) - 1
    return InputError(msg + (f" (+{more} more)" if more else ""), where=source)


def resolve_path(value: str, recipe_path: Path | None) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists() or recipe_path is None:
        return path
    beside = recipe_path.parent / path
    return beside if beside.exists() else path


def load_recipe(name_or_path: str, overrides: list[str] = (), *, check_files: bool = True,
                missing: list[str] | None = None) -> tuple[Recipe, Path]:
    """Resolve, override, validate, and check data files exist. Raises ``InputError``.

    ``check_files=False`` (``train show``): a missing data file is appended to ``missing``
    instead of raised, so a recipe can be read before `data preference` has built its data.
    """
    path = find_recipe(name_or_path)
    data = apply_overrides(_raw_recipe(path), list(overrides))
    data.setdefault("name", path.stem)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, str(path)) from None
    for key in ("train", "test", "cache_dir"):
        value = getattr(recipe.data, key)
        if value is None:
            continue
        resolved = resolve_path(value, path)
        if key != "cache_dir" and not resolved.is_file():
            if check_files:
                raise InputError(f"data.{key}: file not found: {value}", where=str(path))
            if missing is not None:
                missing.append(f"data.{key}: {value}")
        setattr(recipe.data, key, str(resolved.resolve()) if key != "cache_dir" else str(resolved))
    if recipe.model.source == "gguf" and recipe.model.gguf_file != "default":
        gguf = resolve_path(recipe.model.gguf_file, path)
        if not gguf.is_file():
            if check_files:
                raise InputError(f"model.gguf_file: file not found: {recipe.model.gguf_file}", where=str(path))
            if missing is not None:
                missing.append(f"model.gguf_file: {recipe.model.gguf_file}")
        recipe.model.gguf_file = str(gguf.resolve())
    return recipe, path
