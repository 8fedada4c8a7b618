"""Answers and distractors for GSM8K and MATH, the ProbLLMs recipe's rules.

GSM8K: the final numeric answer (after ``####``) plus three distinct distractors
``answer + k`` with k a random nonzero integer in [-10, 10].

MATH: the answer inside the last ``\\boxed{...}`` (nested braces). Each distractor changes
one number of that answer by a random nonzero integer in [-5, 5] and keeps every other
character, so fractions, roots and LaTeX survive (``\\frac{3}{4}`` -> ``\\frac{3}{6}``).
The number to perturb is picked once per question; the three deltas are distinct.
Numbers glued to a LaTeX command or an unbraced exponent (``\\frac12``, ``x^2``) are not
candidates: changing them would change the structure, not one value.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal, InvalidOperation

GSM8K_DELTAS = [k for k in range(-10, 11) if k != 0]
MATH_DELTAS = [k for k in range(-5, 6) if k != 0]
N_DISTRACTORS = 3

# A number: digits with an optional decimal part and an optional sign.
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class NoAnswer(ValueError):
    """The row has no usable answer for the rule (counted as a drop, not a malformed row)."""


def gsm8k_answer(solution: str) -> int:
    """The integer after GSM8K's ``####`` marker (thousands commas allowed)."""
    if "####" not in solution:
        raise NoAnswer("no '####' final answer")
    final = solution.rsplit("####", 1)[1].strip().replace(",", "").replace("$", "")
    try:
        value = Decimal(final)
    except InvalidOperation:
        raise NoAnswer(f"final answer {final[:30]!r} is not a number") from None
    if value != value.to_integral_value():
        raise NoAnswer("final answer is not an integer")
    return int(value)


def gsm8k_options(answer: int, rng: random.Random) -> tuple[list[str], int]:
    """Four shuffled options and the index of the correct one."""
    deltas = rng.sample(GSM8K_DELTAS, N_DISTRACTORS)  # sample() gives distinct deltas
    values = [answer] + [answer + d for d in deltas]
    order = list(range(len(values)))
    rng.shuffle(order)
    return [str(values[i]) for i in order], order.index(0)


def last_boxed(solution: str) -> str:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}``, nested braces matched."""
    starts = [m.end() for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", solution)]
    if not starts:
        m = re.search(r"\\boxed ([^\s$]+)", solution)  # "\boxed 5" (no braces)
        if m:
            return m.group(1)
        raise NoAnswer("no \\boxed{...} answer")
    i = starts[-1]
    depth = 1
    for j in range(i, len(solution)):
        c = solution[j]
        if c == "{" and solution[j - 1] != "\\":
            depth += 1
        elif c == "}" and solution[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                content = solution[i:j].strip()
                if not content:
                    raise NoAnswer("empty \\boxed{}")
                return content
    raise NoAnswer("unbalanced braces in \\boxed{...}")


def number_spans(answer: str) -> list[tuple[int, int]]:
    """Spans of numbers that can be perturbed without changing the LaTeX structure."""
    spans = []
    for m in NUMBER.finditer(answer):
        s, e = m.span()
        if answer[s] == "-" and s > 0 and (answer[s - 1].isalnum() or answer[s - 1] in ")}]"):
            s += 1  # "x-3", "2-3": the minus is an operator, not a sign
        before = answer[s - 1] if s > 0 else ""
        digits = answer[s:e].lstrip("-")
        if before and (before.isalpha() or before in "^_"):
            continue  # \frac12, x^2: single-token arguments
        if len(digits.split(".")[0]) > 1 and digits.startswith("0"):
            continue  # "000" of "1{,}000": a digit group, not a value
        spans.append((s, e))
    return spans


def _shift(number: str, delta: int) -> str:
    value = Decimal(number) + delta
    if "." in number:
        places = len(number.split(".")[1])
        return f"{value:.{places}f}"
    return str(int(value))


def perturb(answer: str, span: tuple[int, int], delta: int) -> str:
    """``answer`` with the number at ``span`` shifted by ``delta``.

    After a binary operator a negative result flips the operator instead of doubling the
    sign: ``x-4`` with 4 -> -1 reads ``x+1``, not ``x--1`` (the same value).
    """
    s, e = span
    new = _shift(answer[s:e], delta)
    if new.startswith("-") and s > 0 and answer[s - 1] in "+-" and not answer[s:e].startswith("-"):
        op = "+" if answer[s - 1] == "-" else "-"
        return answer[: s - 1] + op + new[1:] + answer[e:]
    return answer[:s] + new + answer[e:]


def math_options(answer: str, rng: random.Random) -> tuple[list[str], int]:
    """Four shuffled options (answer + three one-number perturbations), correct index."""
    spans = number_spans(answer)
    if not spans:
        raise NoAnswer("answer has no number to perturb")
    span = rng.choice(spans)
    deltas = rng.sample(MATH_DELTAS, N_DISTRACTORS)
    distractors = [perturb(answer, span, d) for d in deltas]
    values = [answer] + distractors
    if len(set(values)) != len(values):  # cannot happen for integer deltas; guards decimals
        raise NoAnswer("perturbed answers are not distinct")
    order = list(range(len(values)))
    rng.shuffle(order)
    return [values[i] for i in order], order.index(0)
