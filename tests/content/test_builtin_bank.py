"""The built-in bank: loads strictly, is large and balanced enough, and each subject has notes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from probllms_tui.bank import builtin_bank_path
from probllms_tui.core.readers import read_bank

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTES_DIR = REPO_ROOT / "notes"
CORE_SUBJECTS = ("machine-learning", "algorithms", "physics", "linear-algebra", "probability")
NOTE_SUFFIXES = (".md", ".tex", ".txt")
MIN_NOTE_WORDS = 800


@pytest.fixture(scope="module")
def bank():
    load = read_bank(builtin_bank_path(), strict=True)
    assert load.skipped == []
    return load.questions


def test_builtin_bank_is_packaged_beside_the_module():
    path = builtin_bank_path()
    assert path.name == "builtin.jsonl"
    assert path.is_file()


def test_bank_size_and_subject_coverage(bank):
    assert len(bank) >= 60
    per_subject = Counter(q.subject for q in bank)
    for subject in CORE_SUBJECTS:
        assert per_subject[subject] >= 12, f"{subject}: only {per_subject[subject]} questions"


def test_every_question_has_four_options_an_answer_and_an_explanation(bank):
    for q in bank:
        assert len(q.options) == 4, q.id
        assert q.answer in ("A", "B", "C", "D"), q.id
        assert q.explanation.strip(), f"{q.id}: empty explanation"
        assert len(set(o.lower() for o in q.options)) == 4, f"{q.id}: duplicate options"


def test_answer_letters_are_roughly_balanced(bank):
    counts = Counter(q.answer for q in bank)
    for letter in "ABCD":
        share = counts[letter] / len(bank)
        assert 0.15 <= share <= 0.35, f"answer {letter} is {share:.0%} of the bank"


def test_ids_and_stems_are_unique(bank):
    ids = [q.id for q in bank]
    assert len(set(ids)) == len(ids)
    stems = [re.sub(r"\W+", " ", q.stem.lower()).strip() for q in bank]
    duplicates = [s for s, n in Counter(stems).items() if n > 1]
    assert not duplicates, duplicates


def _note_files() -> dict[str, Path]:
    return {p.stem: p for p in NOTES_DIR.iterdir() if p.suffix in NOTE_SUFFIXES}


def test_every_bank_subject_has_a_notes_file(bank):
    notes = _note_files()
    missing = sorted({q.subject for q in bank} - notes.keys())
    assert not missing, f"no notes/<subject> file for {missing}"


def test_each_notes_file_is_substantial():
    notes = _note_files()
    assert notes, "notes/ holds no notes"
    for name, path in notes.items():
        words = len(path.read_text(encoding="utf-8").split())
        assert words >= MIN_NOTE_WORDS, f"{path.name}: {words} words"


def test_notes_folder_holds_only_notes():
    # RAG indexes the whole folder: anything else there would be retrieved as course content.
    others = [p.name for p in NOTES_DIR.iterdir() if p.suffix not in NOTE_SUFFIXES]
    assert not others, others


# For each question, two phrases from the passage in notes/<subject> that supports its answer.
# Recorded by hand while writing the notes, so a question added without notes support (or a
# notes edit that drops the supporting passage) fails here.
SUPPORT = {
    "ml-01": ("training error keeps decreasing", "validation error starts to increase"),
    "ml-02": ("training error of 1-nn is 0", "its own nearest neighbour"),
    "ml-03": ("closed-form ridge solution", "(X^T X + lambda I)^(-1) X^T y"),
    "ml-04": ("decision boundary P(y=1|x) = 0.5", "hyperplane w^T x + b = 0"),
    "ml-05": ("Precision = TP / (TP + FP)", "Precision = 30 / 40 = 0.75"),
    "ml-06": ("L1 penalty produces sparse solutions", "exactly zero"),
    "ml-07": ("polynomial kernel k(x, y) = (x^T y + 1)^2", "dimension 6"),
    "ml-08": ("eigenvector of the covariance matrix", "largest eigenvalue"),
    "ml-09": ("objective never increases", "depends on the initialization"),
    "ml-10": ("gradient with respect to the logits", "dL/dz = p - y"),
    "ml-11": ("increasing k", "bias increases and the variance decreases"),
    "ml-12": ("2 / ||w||", "margin width"),
    "ml-13": ("only linear (identity) activations", "represents only affine"),
    "ml-14": ("100 inputs to 50 outputs", "5050"),
    "ml-15": ("conditionally independent given the", "naive Bayes assumption"),
    "ml-16": ("(n - k) / s + 1", "5 x 5 kernel, stride 1, no padding gives 28 x 28"),
    "alg-01": ("T(n) = 2 T(n/2) + n", "T(n) = Theta(n log n)"),
    "alg-02": ("T(n) = 8 T(n/2) + n^2", "T(n) = Theta(n^3)"),
    "alg-03": ("for n = 1,000,000 about 20 comparisons", "halves"),
    "alg-04": ("already sorted", "Theta(n^2)"),
    "alg-05": ("correct with negative", "can give wrong answers with negative edge"),
    "alg-06": ("Building a heap from n", "costs Theta(n)"),
    "alg-07": ("Omega(n log n) comparisons in the worst case", "at least n! leaves"),
    "alg-08": ("BFS runs in O(V + E)", "adjacency list is scanned once"),
    "alg-09": ("unsuccessful search", "expected time Theta(1 + alpha)"),
    "alg-10": ("unique lightest edge crossing some cut", "belongs to every MST"),
    "alg-11": ("LCS dynamic program runs in O(m n) time", "(m + 1)(n + 1) cells"),
    "alg-12": ("Merge sort is stable", "Heapsort is not stable"),
    "alg-13": ("has no directed cycle", "topological order"),
    "alg-14": ("O(1) amortized", "double"),
    "alg-15": ("height h has at most", "2^(h+1) - 1 nodes"),
    "alg-16": ("Floyd-Warshall", "Theta(V^3)"),
    "phy-01": ("t = sqrt(2 h / g)", "range of 5 * 2 = 10 m"),
    "phy-02": ("maximum range is reached at theta = 45 degrees", "R = v^2 sin(2 theta) / g"),
    "phy-03": ("v = sqrt(2 g h)", "v = sqrt(100) = 10 m/s"),
    "phy-04": ("centripetal acceleration points to the centre", "a = 100 / 5 = 20 m/s^2"),
    "phy-05": ("period T = 2 pi sqrt(m / k)", "a mass four times heavier doubles the period"),
    "phy-06": ("T = 2 pi sqrt(L / g) does not depend on the mass", "pendulum"),
    "phy-07": ("v = (2 * 3) / 3 = 2 m/s", "The collision dissipates 3 J"),
    "phy-08": ("halves her moment of inertia", "doubles"),
    "phy-09": ("Solid cylinder (I = (1/2) M R^2)", "(2/3) g sin(theta)"),
    "phy-10": ("inverse-square law: doubling the distance divides the force by 4", "Coulomb"),
    "phy-11": ("Delta U = 0 and Q = W", "same amount of heat is released"),
    "phy-12": ("Carnot efficiency", "eta_max = 1 - 300/600 = 50%"),
    "phy-13": ("1 / C = 1 / C1 + 1 / C2", "C = 1 microfarad"),
    "phy-14": ("cyclotron radius r = m v / (q B)", "doubling the speed doubles"),
    "phy-15": ("inverse-square law", "r = 2R, one Earth radius above the surface, g is one quarter"),
    "la-01": ("det [[2, 1], [4, 3]] = 2 * 3 - 1 * 4 = 2", "ad - bc"),
    "la-02": ("det(c A) = c^n det(A)", "det(2A) = 2^3 * 5 = 40"),
    "la-03": ("rank(A) + dim null(A) = n", "null space of dimension 6 - 3 = 3"),
    "la-04": ("[[2, 1], [1, 2]]", "eigenvalues 1 and 3"),
    "la-05": ("trace(A) = t1 + ... + tn", "trace 7 and determinant 8"),
    "la-06": ("||Q x|| = ||x|| for", "reflections -1"),
    "la-07": ("orthogonally diagonalizable with real", "spectral theorem"),
    "la-08": ("singular", "either no solution or infinitely many"),
    "la-09": ("P^2 = P", "only possible eigenvalues of a projection are 0 and 1"),
    "la-10": ("[[-2, 1], [1.5, -0.5]]", "(1 / (ad - bc)) [[d, -b], [-c, a]]"),
    "la-11": ("[[2, -1], [-1, 2]] is positive definite", "all eigenvalues are positive"),
    "la-12": ("singular values are the square roots of the eigenvalues of A^T A", "singular values are 4 and 3"),
    "la-13": ("(7, 8, 9) = 2 (4, 5, 6) - (1, 2, 3)", "linearly dependent"),
    "la-14": ("proj = (5/2)(1, 1) = (2.5, 2.5)", "(a . b / a . a) a"),
    "la-15": ("normal equations", "A^T A x = A^T b"),
    "prob-01": ("a positive test means only about a 17% chance", "P(sick | +) = 0.0099 / 0.0594"),
    "prob-02": ("sum is 7 for six of them", "P(sum = 7) = 6/36 = 1/6"),
    "prob-03": ("mean E[N] = 1/p", "p = 1/4 gives an expected 4 trials"),
    "prob-04": ("Var(aX + b) = a^2 Var(X)", "Var(3X + 2) = 9 * 2 = 18"),
    "prob-05": ("uncorrelated does not imply independent", "Cov(X, Y) = 0: X and Y are uncorrelated"),
    "prob-06": ("Its mean and its variance are both lambda", "Poisson"),
    "prob-07": ("memoryless", "= exp(-lambda t) = P(T > t)"),
    "prob-08": ("mean n p and variance n p (1 - p)", "variance 10 * 0.5 * 0.5 = 2.5"),
    "prob-09": ("P(no six) = (5/6)^4", "P(at least one six) = 1 - (5/6)^4, about 0.518"),
    "prob-10": ("sd(M) = sigma / sqrt(n)", "standard deviation 5 / sqrt(100) = 0.5"),
    "prob-11": ("P(X >= a) <= E[X] / a", "P(X >= 10) <= 2 / 10 = 0.2"),
    "prob-12": ("Switching wins with probability 2/3", "Monty Hall"),
    "prob-13": ("X uniform on [0, 1]", "Var(X) = 1/3 - 1/4 = 1/12"),
    "prob-14": ("conditional probability is P(A | B) = P(A and B)", "P(A | B) = 0.2 / 0.5 = 0.4"),
    "prob-15": ("the means added and the variances added", "X + Y ~ N(3, 9)"),
    "it-01": ("uniform variable over 8 outcomes", "log_2 8 = 3"),
    "it-02": ("D(P \\Vert Q) = 0$ if and only if $P = Q", "It is not symmetric"),
    "it-03": ("mutual information is zero if and only if", "independent"),
    "it-04": ("smallest possible expected length of a binary prefix code", "1.75"),
    "opt-01": ("convex and differentiable and grad f(x*) = 0", "x* is a global minimizer"),
    "opt-02": ("converge to 0 if and only if |1 - 2 eta| < 1, that is 0 < eta < 1", "x_k - 2 eta x_k = (1 - 2 eta) x_k"),
    "opt-03": ("grad f(x*) = lambda grad g(x*)", "grad f is parallel to"),
    "opt-04": ("single iteration from any starting point", "x - A^(-1) (A x - b) = A^(-1) b"),
}


def _normalized(text: str) -> str:
    return " ".join(text.replace("**", "").split()).lower()


def test_every_question_has_a_supporting_passage_in_its_subject_notes(bank):
    notes = {name: _normalized(path.read_text(encoding="utf-8")) for name, path in _note_files().items()}
    assert sorted(SUPPORT) == sorted(q.id for q in bank), "SUPPORT and the bank disagree on ids"
    missing = []
    for q in bank:
        text = notes.get(q.subject, "")
        missing += [f"{q.id}: {phrase!r}" for phrase in SUPPORT[q.id] if _normalized(phrase) not in text]
    assert not missing, "\n".join(missing)
