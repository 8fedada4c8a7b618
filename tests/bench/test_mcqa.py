"""bench mcqa end to end on the default GGUF (slow), plus interrupt and degenerate handling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from probllms_tui.core.prompt import letter_continuation, render_letter_prompt
from probllms_tui.core.readers import read_bank
from probllms_train.bench.mcqa import load_datasets, run_mcqa
from probllms_train.bench.models import ModelSpec

from .conftest import probllms_train

SAMPLE_FIELDS = {"id", "prediction", "answer", "correct", "probabilities"}
RUN_FIELDS = {"model", "dataset", "rag", "method", "n", "correct", "accuracy", "ci95", "per_subject",
              "latency_ms", "degenerate", "flags", "size_bytes", "samples"}


def independent_letter_predictions(gguf, questions) -> dict[str, str]:
    """Plain llama-cpp-python: evaluate the prompt, read the last logits, argmax over " A".." D"."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=512, n_threads=1, n_threads_batch=2, verbose=False)
    try:
        out = {}
        for q in questions:
            llm.reset()
            llm.eval(llm.tokenize(render_letter_prompt(q).encode(), add_bos=True, special=False))
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
            ids = [llm.tokenize(letter_continuation(l).encode(), add_bos=False, special=False)[-1]
                   for l in q.letters]
            out[q.id] = q.letters[int(np.argmax([logits[i] for i in ids]))]
        return out
    finally:
        llm.close()


@pytest.fixture(scope="module")
def gguf_run(tmp_path_factory, default_gguf):
    from .conftest import SEED_ROWS, STRUCTURED_ROW, write_jsonl

    tmp = tmp_path_factory.mktemp("mcqa")
    bank = write_jsonl(tmp / "small.jsonl", SEED_ROWS + [STRUCTURED_ROW])
    out = tmp / "out"
    proc = probllms_train("bench", "mcqa", "-m", str(default_gguf),
                          "-d", str(bank), "--method", "letter", "-o", str(out), "--no-progress",
                          "--n-ctx", "512", timeout=600)
    assert proc.returncode == 0, proc.stderr
    return bank, out, proc


@pytest.mark.slow
def test_mcqa_writes_every_output(gguf_run):
    bank, out, proc = gguf_run
    results = json.loads((out / "results.json").read_text())
    assert results["partial"] is False and len(results["runs"]) == 1
    for run in results["runs"]:
        assert RUN_FIELDS <= set(run)
        assert run["n"] == 5 and run["method"] == "letter" and run["rag"] is False
        lo, hi = run["ci95"]
        assert 0 <= lo <= run["accuracy"] <= hi <= 1
        assert set(run["per_subject"]) == {"arithmetic", "geography", "biology", "physics"}
        assert run["per_subject"]["geography"]["n"] == 2
        assert run["size_bytes"] > 100_000_000
        samples = [json.loads(l) for l in open(run["samples"])]
        assert len(samples) == 5
        for s in samples:
            assert SAMPLE_FIELDS <= set(s)
            assert s["correct"] == (s["prediction"] == s["answer"])
            assert sum(s["probabilities"].values()) == pytest.approx(1.0)
        assert run["correct"] == sum(s["correct"] for s in samples)
    md = (out / "results.md").read_text()
    assert "| small |" in md
    assert md in proc.stdout
    import matplotlib.image

    for png in ("accuracy_vs_size.png", "accuracy_per_dataset.png"):
        img = matplotlib.image.imread(out / png)
        assert img.shape[0] > 200 and img.shape[1] > 200


@pytest.mark.slow
def test_letter_predictions_match_an_independent_scorer(gguf_run, default_gguf):
    bank, out, _ = gguf_run
    questions = read_bank(bank).questions
    expected = independent_letter_predictions(default_gguf, questions)
    run = json.loads((out / "results.json").read_text())["runs"][0]
    got = {s["id"]: s["prediction"] for s in map(json.loads, open(run["samples"]))}
    assert got == expected


class _ScriptedScorer:
    """Answers "B" always; raises KeyboardInterrupt at question ``stop_at`` (a user's Ctrl-C)."""

    default_method = method_label = "letter"
    n_ctx = 512

    def __init__(self, stop_at=None, answer="B"):
        self.stop_at, self.calls, self.answer = stop_at, 0, answer

    def score(self, q, passages=(), method=None):
        from probllms_tui.engine.base import ScoreResult

        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        probs = {l: (0.7 if l == self.answer else 0.3 / (len(q.letters) - 1)) for l in q.letters}
        return ScoreResult(self.answer, probs, "letter", "scripted", 1.0 * self.calls)

    def count_tokens(self, text):
        return len(text.split())

    def close(self):
        pass


def _spec(name="scripted"):
    return ModelSpec(name, "gguf", name, None, quantization="Q4_K_M", size_bytes=1_000_000)


def test_interrupt_writes_partial_results(tmp_path, small_bank):
    datasets = load_datasets([small_bank], None, warn=lambda m: None)
    scorer = _ScriptedScorer(stop_at=4)
    with pytest.raises(KeyboardInterrupt):
        run_mcqa([_spec()], datasets, out=tmp_path / "out", rag_settings=[False], method=None,
                 progress=False, open_scorer_fn=lambda spec, **kw: scorer)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["partial"] is True
    (run,) = results["runs"]
    assert run["n"] == 3 and run["n_planned"] == 5 and run["partial"] is True
    assert len(open(run["samples"]).readlines()) == 3
    assert "3/5" in (tmp_path / "out" / "results.md").read_text()


def test_degenerate_dataset_is_flagged_in_outputs(tmp_path, degenerate_bank):
    warnings = []
    datasets = load_datasets([degenerate_bank], None, warn=warnings.append)
    assert any("degenerate" in w for w in warnings)
    results = run_mcqa([_spec()], datasets, out=tmp_path / "out", rag_settings=[False], method=None,
                       progress=False, open_scorer_fn=lambda spec, **kw: _ScriptedScorer())
    run = results["runs"][0]
    assert run["degenerate"] is True and run["flags"]
    assert results["datasets"]["degenerate"]["degenerate"] is True
    md = (tmp_path / "out" / "results.md").read_text()
    row = next(l for l in md.splitlines() if l.startswith("| scripted"))
    assert "DEGENERATE" in row


def test_rag_without_index_says_so(tmp_path, small_bank, probllms_home):
    proc = probllms_train("bench", "mcqa", "-m", "gemma3-270m-q4_k_m", "-d", str(small_bank), "--rag",
                          "-o", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--rag" in proc.stderr and "no notes index" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args,needle", [
    (["-m", "gemma3-270m-q4_k_m", "-d", "/nonexistent/bank.jsonl"], "/nonexistent/bank.jsonl: file not found"),
    (["-m", "no-such-model", "-d", "BANK"], "unknown model 'no-such-model'"),
    (["-m", "gemma3-270m-q4_k_m", "-d", "BANK", "--method", "vibes"], "'vibes' is not one of 'letter', 'cloze'"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, small_bank, args, needle):
    args = [str(small_bank) if a == "BANK" else a for a in args]
    proc = probllms_train("bench", "mcqa", *args, "-o", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_paired_models_get_mcnemar(tmp_path, small_bank):
    """Two systems on the same questions: the table shows McNemar's test on their disagreements."""
    datasets = load_datasets([small_bank], None, warn=lambda m: None)
    scorers = {"always-a": _ScriptedScorer(answer="A"), "always-b": _ScriptedScorer(answer="B")}
    results = run_mcqa([_spec("always-a"), _spec("always-b")], datasets, out=tmp_path / "out",
                       rag_settings=[False], method=None, progress=False,
                       open_scorer_fn=lambda spec, **kw: scorers[spec.name])
    (cmp,) = results["comparisons"]
    # answers: B C A D B -> "A" is right once (q3), "B" twice (q1, q5): discordant 1 vs 2
    assert cmp["kind"] == "models" and cmp["n_paired"] == 5
    assert (cmp["mcnemar"]["only_a"], cmp["mcnemar"]["only_b"]) == (1, 2)
    assert cmp["mcnemar"]["p_value"] == pytest.approx(1.0)  # exact: 2 * P(X <= 1 | 3) = 1
    assert "Paired comparisons (McNemar)" in (tmp_path / "out" / "results.md").read_text()
