"""`probllms-train data preference`: sources -> mixed, deduplicated, split pairs + report.

Outputs in OUT_DIR:
- train.jsonl          all sources (the "all data" recipe), shuffled;
- student_train.jsonl  the student part of train (the "student only" recipe);
- test.jsonl           student pairs only: both recipes are evaluated on the same pairs;
- report.json          counts per source, drops per reason, leakage, length percentiles.
The student pairs are split 80/20 by prompt (all pairs of one question land on one side),
then every train pair whose prompt is an exact or near copy of a test prompt is removed.
``split: pair`` (--seed-exact) draws each student pair instead, as the progress report did;
overlapping prompts are then counted in the report but kept.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probllms_tui.core.files import atomic_write_json
from probllms_tui.core.errors import InputError

from probllms_train.data.preference.corrupt import Corruptor, RuleCorruptor
from probllms_train.data.preference.dedup import dedup, leaks, normalize
from probllms_train.data.preference.lengths import percentiles, token_counter
from probllms_train.data.preference.pairs import Pair
from probllms_train.data.preference.qa import qa_items, qa_pairs
from probllms_train.data.preference.recipe import PreferenceRecipe, SourceSpec
from probllms_train.data.preference.stackexchange import se_pairs
from probllms_train.data.preference.student import student_pairs
from probllms_train.data.rows import BadRowPolicy, Tally, hub_rows, read_rows, write_jsonl


@dataclass
class PreferenceBuild:
    train: list[Pair]
    student_train: list[Pair]
    test: list[Pair]
    report: dict[str, Any]
    llm_calls: int = 0
    cache_hits: int = 0


def _rows(spec: SourceSpec, policy: BadRowPolicy):
    if spec.path.startswith("hub:"):
        name, _, config = spec.path[4:].partition(":")
        return hub_rows(name, config=config or None, split=spec.split, streaming=True, data_dir=spec.data_dir)
    return read_rows(spec.path, policy)


def _sample(items: list, spec: SourceSpec, seed: int, drops: Tally, where_of) -> list:
    """At most spec.sample items, a seeded random subset kept in file order; the rest counted."""
    if spec.sample is None or len(items) <= spec.sample:
        return items
    keep = set(random.Random(f"{seed}\x00sample\x00{spec.name}").sample(range(len(items)), spec.sample))
    for i, it in enumerate(items):
        if i not in keep:
            drops.drop(f"{spec.name}: over the --sample budget", where_of(it))
    return [it for i, it in enumerate(items) if i in keep]


def make_corruptor(recipe: PreferenceRecipe, out_dir: Path) -> Corruptor:
    c = recipe.corruption
    if c.backend == "rule":
        return RuleCorruptor()
    from probllms_train.data.preference.backends import GGUFCorruptor, LLMCache, OpenAICorruptor

    cache = LLMCache(c.cache or out_dir / "llm_cache.sqlite")
    if c.backend == "openai":
        if not c.model:
            raise InputError("the openai backend needs --model (the API's model name)")
        return OpenAICorruptor(c.model, cache, base_url=c.base_url, api_key_env=c.api_key_env,
                               temperature=c.temperature, max_tokens=c.max_tokens, instructions=c.instructions)
    return GGUFCorruptor(c.model, cache, max_tokens=c.max_tokens, instructions=c.instructions)


def _split_per_pair(pairs: list[Pair], fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """The progress report's split: each pair goes to test with probability ``fraction``,
    independently (so one question's pairs can land on both sides)."""
    rng = random.Random(f"{seed}\x00split-pair")
    draws = [rng.random() < fraction for _ in pairs]
    return [p for p, t in zip(pairs, draws) if not t], [p for p, t in zip(pairs, draws) if t]


def _split_student(pairs: list[Pair], fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """By prompt group, seeded: test gets whole questions until it holds ~fraction of the pairs."""
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(normalize(p.prompt), []).append(p)
    keys = sorted(groups)
    random.Random(f"{seed}\x00split").shuffle(keys)
    target = round(fraction * len(pairs))
    test_keys: set[str] = set()
    n_test = 0
    for k in keys:
        if n_test >= target:
            break
        test_keys.add(k)
        n_test += len(groups[k])
    return ([p for p in pairs if normalize(p.prompt) not in test_keys],
            [p for p in pairs if normalize(p.prompt) in test_keys])


@dataclass
class _Collected:
    student: list[Pair] = field(default_factory=list)
    others: list[Pair] = field(default_factory=list)
    ops: Counter = field(default_factory=Counter)
    read: Counter = field(default_factory=Counter)
    backend: str | None = None
    llm_calls: int = 0
    cache_hits: int = 0


def _collect(recipe: PreferenceRecipe, out_dir: Path, corruptor: Corruptor | None,
             policy: BadRowPolicy, drops: Tally) -> _Collected:
    """Every source -> pairs (student apart), budgets applied, QA rows corrupted."""
    got = _Collected()
    seed = recipe.seed

    def counted(spec: SourceSpec):
        for row in _rows(spec, policy):
            if spec.max_rows is not None and got.read[spec.name] >= spec.max_rows:
                break  # rows past max_rows are never read: reported as rows_read, not as drops
            got.read[spec.name] += 1
            yield row

    for spec in recipe.student:
        pairs = list(student_pairs(counted(spec), policy, drops, source=spec.name))
        got.student += _sample(pairs, spec, seed, drops, lambda p: p.where)
    owned = corruptor is None and bool(recipe.qa)  # close only what this run opened
    if owned:
        corruptor = make_corruptor(recipe, out_dir)
    try:
        for spec in recipe.qa:
            items = _sample(list(qa_items(counted(spec), policy)), spec, seed, drops, lambda it: it.where)
            for item, result, ops in qa_pairs(items, corruptor, seed=seed, source=spec.name,
                                              workers=recipe.corruption.workers):
                if isinstance(result, str):
                    drops.drop(f"{spec.name}: {result}", item.where)
                else:
                    got.others.append(result)
                    got.ops.update(["+".join(ops)] if ops else [])
    finally:
        got.backend = getattr(corruptor, "name", None)
        got.llm_calls = getattr(corruptor, "calls", 0)
        got.cache_hits = getattr(getattr(corruptor, "cache", None), "hits", 0)
        if owned and hasattr(corruptor, "close"):
            corruptor.close()
            if hasattr(corruptor, "cache"):
                corruptor.cache.close()
    for spec in recipe.stack_exchange:
        rule = recipe.se_rule
        pairs = list(se_pairs(counted(spec), policy, drops, seed=seed, sites=recipe.se_sites, source=spec.name,
                              score_field=rule.score_field, chosen_min=rule.chosen_min,
                              rejected=range(rule.rejected_min, rule.rejected_max + 1)))
        got.others += _sample(pairs, spec, seed, drops, lambda p: p.where)
    return got


def _clean(pairs: list[Pair], threshold: float, drops: Tally) -> list[Pair]:
    """Drop same-text pairs, then exact and near duplicates (the first of a group is kept)."""
    # A pair whose two responses read the same teaches nothing (and DPO loaders refuse it).
    distinct = []
    for p in pairs:
        if normalize(p.chosen) == normalize(p.rejected):
            drops.drop(f"{p.source}: chosen and rejected are the same text", p.where)
        else:
            distinct.append(p)
    kept, removed = dedup(distinct, lambda p: f"{p.prompt}\n{p.chosen}\n{p.rejected}", threshold)
    for p, kind, first in removed:
        drops.drop(f"{p.source}: {kind} duplicate", f"{p.where} = {first.where}")
    return kept


def build_preference(recipe: PreferenceRecipe, out_dir: Path,
                     corruptor: Corruptor | None = None) -> PreferenceBuild:
    if not recipe.sources():
        raise InputError("no sources: give --student, --qa and/or --stack-exchange (or a --config recipe)")
    names = [s.name for s in recipe.sources()]
    if len(set(names)) != len(names):
        raise InputError(f"source names must be unique, got {names}")
    seed = recipe.seed
    drops = Tally()
    got = _collect(recipe, out_dir, corruptor, BadRowPolicy(recipe.skip_bad, drops), drops)
    if not got.student:
        raise InputError("no student pairs survived: the test split is student-only, so it would be empty")

    built = Counter(p.source for p in got.student + got.others)
    # Student pairs first, so a copy elsewhere never removes a student pair.
    kept = _clean(got.student + got.others, recipe.near_dup_threshold, drops)
    student_names = {s.name for s in recipe.student}
    student = [p for p in kept if p.source in student_names]
    others = [p for p in kept if p.source not in student_names]

    split = _split_per_pair if recipe.split == "pair" else _split_student
    student_train, test = split(student, recipe.test_fraction, seed)
    leaked = leaks(student_train + others, [p.prompt for p in test], lambda p: p.prompt, recipe.leak_threshold)
    leakage = [{"train": p.where, "test": test[i].where, "kind": kind, "source": p.source}
               for p, kind, i in leaked]
    if recipe.split == "pair":
        # A per-pair split puts other pairs of a test question in train by design; removing
        # them would make it a by-question split again. They are counted, not removed.
        leaked = []
    leaked_ids = {id(p) for p, _, _ in leaked}
    for p, kind, i in leaked:
        drops.drop(f"{p.source}: prompt leaks into test ({kind})", p.where)
    student_train = [p for p in student_train if id(p) not in leaked_ids]
    train = student_train + [p for p in others if id(p) not in leaked_ids]
    random.Random(f"{seed}\x00mix").shuffle(train)
    random.Random(f"{seed}\x00student").shuffle(student_train)

    report = {
        "seed": seed, "recipe": recipe.model_dump(mode="json"),
        "corruption_backend": got.backend,
        "rows_read": dict(sorted(got.read.items())),
        # pairs that reached cleaning = train + test + same-text/duplicate/leak drops, per source
        "pairs_built": {name: built.get(name, 0) for name in names},
        "written": {"train": len(train), "student_train": len(student_train), "test": len(test)},
        "per_source": {name: {"train": sum(p.source == name for p in train),
                              "test": sum(p.source == name for p in test)} for name in names},
        "corruption_ops": dict(sorted(got.ops.items())),
        "dropped": drops.total(), "drops": drops.as_dict(),
        "split": recipe.split,
        "leakage": {"removed_from_train": len(leaked), "overlapping_prompts": len(leakage),
                    "overlaps": leakage[:50]},
    }
    report["lengths"] = _lengths(recipe.tokenizer, {"train": train, "test": test})
    return PreferenceBuild(train, student_train, test, report, got.llm_calls, got.cache_hits)


def _lengths(tokenizer: str | None, splits: dict[str, list[Pair]]) -> dict[str, Any]:
    """Percentiles per split and part, and per source of the train split (one count per text)."""
    desc, count, close = token_counter(tokenizer)
    parts = ("prompt", "chosen", "rejected")
    try:
        out: dict[str, Any] = {"tokenizer": desc}
        for split, pairs in splits.items():
            counts = [{part: count(getattr(p, part)) for part in parts} for p in pairs]
            out[split] = {part: percentiles([c[part] for c in counts]) for part in parts}
            if split == "train":
                out["train_per_source"] = {
                    src: {part: percentiles([c[part] for c, p in zip(counts, pairs) if p.source == src])
                          for part in parts}
                    for src in sorted({p.source for p in pairs})}
        return out
    finally:
        close()


def write_preference(build: PreferenceBuild, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "train.jsonl", [p.record() for p in build.train])
    write_jsonl(out_dir / "student_train.jsonl", [p.record() for p in build.student_train])
    write_jsonl(out_dir / "test.jsonl", [p.record() for p in build.test])
    atomic_write_json(out_dir / "report.json", build.report)


__all__ = ["PreferenceBuild", "build_preference", "write_preference"]
