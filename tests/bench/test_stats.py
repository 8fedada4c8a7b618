from __future__ import annotations

import pytest

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers import read_bank
from probllms_train.bench.stats import check_dataset, mcnemar, wilson_interval


@pytest.mark.parametrize("k,n,lo,hi", [
    (8, 10, 0.4902, 0.9433),    # Wilson (1927); e.g. Newcombe (1998) table I
    (0, 10, 0.0, 0.2775),
    (50, 100, 0.4038, 0.5962),
    (81, 263, 0.2553, 0.3662),  # Newcombe 1998, example 1 (81/263)
])
def test_wilson_interval_known_values(k, n, lo, hi):
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-4)


def test_mcnemar_exact_for_few_discordant_pairs():
    # b=10, c=2: two-sided exact binomial p = 2 * P(X <= 2 | 12, 1/2) = 2 * 79 / 4096
    a = [True] * 10 + [False] * 2 + [True] * 5 + [False] * 3
    b = [False] * 10 + [True] * 2 + [True] * 5 + [False] * 3
    t = mcnemar(a, b)
    assert (t.only_a, t.only_b, t.both_right, t.both_wrong) == (10, 2, 5, 3)
    assert t.method == "exact-binomial"
    assert t.p_value == pytest.approx(158 / 4096)


def test_mcnemar_chi_square_with_continuity_correction():
    # b=30, c=15: (|30-15|-1)^2 / 45 = 4.3556, p = 0.03689 (chi-square, 1 df)
    t = mcnemar([True] * 30 + [False] * 15, [False] * 30 + [True] * 15)
    assert t.method == "chi2-continuity"
    assert t.statistic == pytest.approx(196 / 45)
    assert t.p_value == pytest.approx(0.036888, abs=1e-5)


def test_mcnemar_identical_systems_p_is_one():
    t = mcnemar([True, False, True], [True, False, True])
    assert t.p_value == 1.0 and t.only_a == t.only_b == 0


def test_degenerate_dataset_flagged(degenerate_bank):
    check = check_dataset(read_bank(degenerate_bank).questions)
    assert check.degenerate
    assert any(f.startswith("answer-text: 20/20 rows (100%) have the same correct answer") for f in check.flags)


def test_ordinary_dataset_not_flagged(small_bank):
    check = check_dataset(read_bank(small_bank).questions)
    assert not check.degenerate and check.flags == ["size: only 5 questions: too few to judge answer shares"]


def test_one_answer_letter_everywhere_is_flagged():
    qs = [MCQ(f"q{i}", (f"x{i}", f"y{i}", f"z{i}"), "A") for i in range(20)]
    check = check_dataset(qs)
    assert check.degenerate and any(f.startswith("letter-imbalance: answer A is correct in 100% of rows")
                                    for f in check.flags)


def test_shared_math_set_is_degenerate(shared_data):
    qs = read_bank(shared_data / "MATH-test_mcqa.jsonl").questions[:300]
    assert check_dataset(qs).degenerate
    arc = read_bank(shared_data / "ARC-Easy_mcqa.jsonl").questions[:300]
    assert not check_dataset(arc).degenerate


def test_benchmark_scripts_use_the_same_statistics():
    """The benchmark scripts had their own Wilson interval and a nearest-rank percentile; one
    module now serves both, so a benchmark's table and `bench mcqa`'s agree."""
    import importlib.util
    from pathlib import Path

    from probllms_train.bench import stats

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "_common.py"
    spec = importlib.util.spec_from_file_location("bench_common", path)
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    assert common.wilson_interval is stats.wilson_interval and common.percentile is stats.percentile
    assert stats.percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0  # linear, not nearest-rank (20)
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)  # no questions: no information
