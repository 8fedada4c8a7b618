"""The preference-data recipe as data: a YAML file or the CLI flags fill this model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from probllms_tui.core.errors import InputError

from probllms_train.data.preference.stackexchange import DEFAULT_SITES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo in a recipe is an error, not a no-op


class SourceSpec(_Strict):
    name: str                   # names the source in outputs and in --sample budgets
    path: str                   # local .jsonl/.json/.parquet, or "hub:owner/dataset[:config]"
    split: str = "train"        # hub split (local files are what they are)
    data_dir: str | None = None  # hub sub-folder, e.g. "data/math.stackexchange.com" (one SE site)
    sample: int | None = Field(default=None, ge=1)  # budget: at most this many pairs/examples
    max_rows: int | None = Field(default=None, ge=1)  # read only the first N rows (huge hub streams)


class CorruptionSpec(_Strict):
    backend: Literal["rule", "openai", "gguf"] = "rule"
    model: str | None = None            # API model name, or registry name/path of a GGUF
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"  # the NAME of the variable; the key is never stored
    cache: str | None = None            # SQLite file; default OUT_DIR/llm_cache.sqlite
    workers: int = Field(default=1, ge=1)
    max_tokens: int = Field(default=1024, ge=1)
    temperature: float = 0.7
    # project: this project's rewording (asks for the rewritten answer only);
    # report: the progress report's Appendix A prompts (corruption.yaml), for --seed-exact.
    instructions: Literal["project", "report"] = "project"


class StackExchangeRule(_Strict):
    """Which answers make a pair. The scale is named, because the hub dataset's ``pm_score`` is
    round(log2(1 + upvotes)), +1 if accepted (HuggingFaceH4/stack-exchange-preferences' card):
    pm_score 10 is about 724 upvotes (362 if accepted), pm_score 3..5 about 5..44 upvotes."""

    score_field: Literal["pm_score", "score"] = "pm_score"  # "score": raw votes, for other dumps
    chosen_min: int = 10        # the best answer must score at least this (on score_field's scale)
    rejected_min: int = 3       # the rejected answer scores rejected_min..rejected_max
    rejected_max: int = 5


class PreferenceRecipe(_Strict):
    seed: int = 0
    student: list[SourceSpec] = []
    qa: list[SourceSpec] = []
    stack_exchange: list[SourceSpec] = []
    se_sites: list[str] = list(DEFAULT_SITES)
    se_rule: StackExchangeRule = StackExchangeRule()
    corruption: CorruptionSpec = CorruptionSpec()
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    # question: all pairs of one question on one side (default: no question is both trained on
    # and tested); pair: each student pair drawn uniformly at random, as the progress report did.
    split: Literal["question", "pair"] = "question"
    near_dup_threshold: float = Field(default=0.8, gt=0, le=1)
    leak_threshold: float = Field(default=0.8, gt=0, le=1)
    tokenizer: str | None = None        # registry name / GGUF path, or "words"
    skip_bad: bool = False

    def sources(self) -> list[SourceSpec]:
        return [*self.student, *self.qa, *self.stack_exchange]

    def seed_exact(self) -> PreferenceRecipe:
        """The progress report's choices where it states them, on top of this recipe's sources:
        uniform per-pair split, the Appendix A prompts, its Stack Exchange sites (Stack Overflow
        included) and score rule on the pm_score scale. Volumes come from the sources' budgets
        (probllms-preference-seed-exact.yaml holds the report's)."""
        out = self.model_copy(deep=True)
        out.split = "pair"
        out.test_fraction = 0.2
        out.corruption.instructions = "report"
        out.se_rule = StackExchangeRule()
        out.se_sites = list(DEFAULT_SITES)  # the report's four named sites and the other science ones
        return out


def load_recipe(path: str | Path) -> PreferenceRecipe:
    p = Path(path)
    if not p.is_file():
        raise InputError("recipe file not found", where=str(p))
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        return PreferenceRecipe.model_validate(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"invalid YAML ({getattr(exc, 'problem', exc)})",
                         where=f"{p}:{mark.line + 1}" if mark else str(p)) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise InputError(f"recipe field {loc}: {err['msg']}", where=str(p)) from None
