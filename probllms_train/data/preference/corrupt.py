"""The corruption pipeline: a good answer -> a rejected one by two of REMOVE, SUBSTITUTE, INSERT.

The two operations are picked per example with a generator seeded by the seed and the
example's text, so an example gets the same operations whatever the sampling or the order.
Backends (see backends.py) rewrite with an LLM; `RuleCorruptor` here does it offline.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from importlib import resources
from typing import Protocol

import yaml

OPS = ("REMOVE", "SUBSTITUTE", "INSERT")
OPS_PER_EXAMPLE = 2


class CorruptionFailed(Exception):
    """The backend gave nothing usable (empty or unchanged): the example is dropped and counted."""


class Corruptor(Protocol):
    name: str  # "rule", "openai:<model>", "gguf:<model>": recorded in the report

    def corrupt(self, op: str, question: str, answer: str, rng: random.Random) -> str: ...


@lru_cache(maxsize=1)
def corruption_config() -> dict:
    text = resources.files("probllms_train.data.preference").joinpath("corruption.yaml").read_text("utf-8")
    return yaml.safe_load(text)


INSTRUCTION_SETS = {"project": "llm_instructions", "report": "report_instructions"}


def instruction(op: str, question: str, answer: str, instructions: str = "project") -> str:
    """The LLM instruction for one operation (the same text for every LLM backend).

    ``project``: this project's rewording (asks for the rewritten answer only, which keeps
    replies parseable); ``report``: the progress report's Appendix A prompts (``--seed-exact``).
    """
    return corruption_config()[INSTRUCTION_SETS[instructions]][op].format(question=question.strip(),
                                                                           answer=answer.strip())


def choose_ops(seed: int, question: str, answer: str) -> list[str]:
    return random.Random(f"{seed}\x00ops\x00{question}\x00{answer}").sample(OPS, OPS_PER_EXAMPLE)


def corrupt_answer(corruptor: Corruptor, question: str, answer: str, seed: int) -> tuple[str, list[str]]:
    """Apply the example's two operations in turn; returns (rejected, ops)."""
    ops = choose_ops(seed, question, answer)
    text = answer
    for op in ops:
        rng = random.Random(f"{seed}\x00{op}\x00{text}")
        out = corruptor.corrupt(op, question, text, rng).strip()
        if not out or _norm(out) == _norm(text):
            raise CorruptionFailed(f"{op} left the answer unchanged")
        text = out
    if _norm(text) == _norm(answer):  # e.g. REMOVE took out exactly what INSERT put in
        raise CorruptionFailed(f"{'+'.join(ops)} gave back the original answer")
    return text, ops


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$\\(])")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text.strip()) if s.strip()]


class RuleCorruptor:
    """Offline corruption by rules, for runs without an LLM budget (and for tests).

    REMOVE drops about a third of the sentences (or words of a one-sentence answer);
    SUBSTITUTE shifts numbers and swaps words for their opposites (``corruption.yaml``);
    INSERT puts an irrelevant sentence at a sentence boundary.
    """

    name = "rule"

    def corrupt(self, op: str, question: str, answer: str, rng: random.Random) -> str:
        return {"REMOVE": self._remove, "SUBSTITUTE": self._substitute, "INSERT": self._insert}[op](answer, rng)

    @staticmethod
    def _remove(text: str, rng: random.Random) -> str:
        sents = sentences(text)
        inserted = set(corruption_config()["rule"]["irrelevant_sentences"])
        useful = [i for i, s in enumerate(sents) if s not in inserted]  # never undo an INSERT
        if len(useful) >= 2:
            k = max(1, round(len(useful) / 3))
            gone = set(rng.sample(useful, k))
            return " ".join(s for i, s in enumerate(sents) if i not in gone)
        text = " ".join(sents[i] for i in useful)
        kept = [s for s in sents if s in inserted]
        words = text.split()
        if len(words) < 2:
            return ""  # nothing left to remove: CorruptionFailed, counted
        span = max(1, len(words) // 3)
        start = rng.randrange(0, len(words) - span + 1)
        return " ".join(kept + [" ".join(words[:start] + words[start + span:])])

    @staticmethod
    def _substitute(text: str, rng: random.Random) -> str:
        swaps = {str(k).lower(): str(v) for k, v in corruption_config()["rule"]["swaps"].items()}
        swaps.update({v.lower(): k for k, v in list(swaps.items())})
        spots = [(m.start(), m.end(), "num") for m in NUMBER.finditer(text)]
        spots += [(m.start(), m.end(), "word") for m in re.finditer(r"\b[A-Za-z]+\b", text)
                  if m.group(0).lower() in swaps]
        if not spots:
            return RuleCorruptor._negate(text, rng)
        chosen = sorted(rng.sample(spots, max(1, len(spots) // 3)), reverse=True)
        for s, e, kind in chosen:
            old = text[s:e]
            if kind == "num":
                value = float(old) + rng.choice([k for k in range(-9, 10) if k])
                new = str(round(value, len(old.split(".")[1]))) if "." in old else str(int(value))
            else:
                new = swaps[old.lower()]
                new = new.capitalize() if old[0].isupper() else new
            text = text[:s] + new + text[e:]
        return text

    @staticmethod
    def _negate(text: str, rng: random.Random) -> str:
        spots = [m for m in re.finditer(r"\b(is|are|can|does|will)\b", text)]
        if spots:
            m = rng.choice(spots)
            return text[:m.end()] + " not" + text[m.end():]
        sents = sentences(text)
        if len(sents) >= 2:  # no swappable word or verb: reverse the reasoning order
            return " ".join(reversed(sents))
        return ""

    @staticmethod
    def _insert(text: str, rng: random.Random) -> str:
        extra = rng.choice(corruption_config()["rule"]["irrelevant_sentences"])
        sents = sentences(text)
        pos = rng.randrange(0, len(sents) + 1)
        return " ".join(sents[:pos] + [extra] + sents[pos:])
