"""bench judge against a local OpenAI-compatible stub server (127.0.0.1) and the default GGUF."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from probllms_tui.core.prompt import Passage
from probllms_tui.core.readers import read_bank
from probllms_train.bench.judge import (
    GGUFJudge, combine, judge_question, open_prompt, run_judge, run_judge_command, sample_open_questions,
)

KEY = "sk-test-do-not-log-4242"


class FakeRetriever:
    """The retriever boundary; one fixed passage, relevant (above the relevance floor)."""

    def search(self, query, k):
        return [Passage("Paris is the capital of France. Dogs bark. Water freezes at 0 degrees Celsius.",
                        "notes/facts.md:1-3", {"similarity": 0.9})]


def explanations(prompt: str) -> tuple[str, str]:
    """The two texts the judge is shown (explanations in mcq mode, answers in open mode)."""
    m = re.search(r"(?:Explanation|Answer) 1: (.*)\n\n(?:Explanation|Answer) 2: (.*)\n\nOptions:", prompt, re.S)
    return m.group(1), m.group(2)


@pytest.fixture
def stub():
    """An OpenAI-compatible /chat/completions stub. mode "first": always answers A (pure position
    bias); mode "longer": prefers the longer explanation (a consistent judge)."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            first, second = explanations(body["messages"][-1]["content"])
            if server.mode == "first":
                letter = "A"
            else:
                letter = "A" if len(first) > len(second) else "B" if len(second) > len(first) else "C"
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": letter}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.mode = "first"
    server.seen = seen
    server.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_combine_needs_both_orders():
    assert combine("A", "B") == "win"   # RAG first chosen, then RAG second chosen
    assert combine("B", "A") == "loss"
    assert combine("A", "A") == "tie"   # always the first position: bias, not preference
    assert combine("C", "B") == "tie" and combine(None, None) == "tie"


@pytest.mark.slow
def test_judge_cli_path_swaps_positions_and_never_logs_the_key(stub, small_bank, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("probllms_tui.rag.retrieve.open_retriever", lambda *a, **k: FakeRetriever())
    monkeypatch.setenv("JUDGE_KEY", KEY)
    out = tmp_path / "judge"
    result = run_judge_command(data=small_bank, out=out, model=None, judge_url=stub.url, judge_model="stub",
                               judge_key_env="JUDGE_KEY", judge_gguf=None, limit=1, max_tokens=4, k=2,
                               data_dir=tmp_path, models_dir=None)
    # A judge that always picks position 1 prefers each explanation once: every question is a tie.
    assert (result["wins"], result["ties"], result["losses"], result["n"]) == (0, 1, 0, 1)
    assert result["first_position_rate"] == 1.0
    assert len(stub.seen) == 2
    for a, b in zip(stub.seen[::2], stub.seen[1::2]):
        e1, e2 = explanations(a["body"]["messages"][-1]["content"])
        assert explanations(b["body"]["messages"][-1]["content"]) == (e2, e1)  # positions swapped
        assert a["path"] == "/v1/chat/completions" and a["auth"] == f"Bearer {KEY}"
    rows = [json.loads(l) for l in open(out / "judge.jsonl")]
    assert [r["outcome"] for r in rows] == ["tie"]
    assert rows[0]["passages"] == ["notes/facts.md:1-3"]
    written = "".join(p.read_text() for p in out.iterdir()) + capsys.readouterr().out
    assert KEY not in written


@pytest.mark.slow
def test_consistent_judge_outcomes(stub, default_engine, small_bank, tmp_path):
    stub.mode = "longer"
    questions = read_bank(small_bank).questions[:2]

    class Judge:
        name = "stub"

        def __init__(self):
            from probllms_train.bench.judge import EndpointJudge

            self.inner = EndpointJudge(stub.url, "stub", "NO_SUCH_ENV_VAR")

        def verdict(self, jq):
            return self.inner.verdict(jq)

    result = run_judge(default_engine, Judge(), FakeRetriever(), questions, out=tmp_path, k=2, max_tokens=5)
    rows = [json.loads(l) for l in open(tmp_path / "judge.jsonl")]
    for r in rows:
        rag, plain = len(r["with_rag"] or "(empty)"), len(r["without_rag"] or "(empty)")
        assert r["outcome"] == ("win" if rag > plain else "loss" if rag < plain else "tie")
    assert result["wins"] + result["ties"] + result["losses"] == 2
    assert stub.seen[0]["auth"] is None  # no key in the environment: no header at all


@pytest.mark.slow
def test_local_gguf_judge_scores_the_verdict_mcq(default_engine, small_bank):
    q = read_bank(small_bank).questions[0]
    verdict, info = GGUFJudge(default_engine).verdict(judge_question(q, q.answer, "Two plus two is four.", "No idea."))
    assert verdict in "ABC"
    assert set(info["probabilities"]) == {"A", "B", "C"}
    assert sum(info["probabilities"].values()) == pytest.approx(1.0)


STUDENT_ROWS = [
    {"question_id": i, "question_complete": f"Question: {q}",
     "preference": [{"A": "a", "B": "b", "overall": "A", "criteria": {"correctness": "A"}}]}
    for i, q in enumerate(["What is the capital of France?", "Why do dogs bark?", "At what temperature does water freeze?",
                           "What is 2 + 2?", "What is the capital of France?"])
]


def test_open_questions_are_sampled_from_the_student_format(tmp_path):
    path = tmp_path / "students.json"
    path.write_text(json.dumps(STUDENT_ROWS))
    every = sample_open_questions(path, 10, seed=0)
    assert [q.question for q in every] == [r["question_complete"] for r in STUDENT_ROWS[:4]]  # repeat counted once
    two = sample_open_questions(path, 2, seed=0)
    assert len(two) == 2 and two == sample_open_questions(path, 2, seed=0)  # seeded
    assert {q.id for q in sample_open_questions(path, 2, seed=1)} | {q.id for q in two} <= {"0", "1", "2", "3"}
    bank = tmp_path / "bank.jsonl"
    bank.write_text(json.dumps({"question": "Q?", "choices": ["a", "b"], "answer": 0}) + "\n")
    from probllms_tui.core.errors import InputError

    with pytest.raises(InputError, match="student-annotated format"):
        sample_open_questions(bank, 2, seed=0)


@pytest.mark.slow
def test_open_mode_judges_the_models_own_answers_with_and_without_rag(stub, tmp_path, monkeypatch, capsys):
    """The report's protocol: sampled student questions, the model's own reasoned answers with
    and without notes, judged in both orders by an OpenAI-compatible judge (here on 127.0.0.1)."""
    monkeypatch.setattr("probllms_tui.rag.retrieve.open_retriever", lambda *a, **k: FakeRetriever())
    data = tmp_path / "students.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in STUDENT_ROWS))
    stub.mode = "longer"
    result = run_judge_command(data=data, out=tmp_path / "out", model=None, judge_url=stub.url, judge_model="stub",
                               judge_key_env="NO_SUCH_ENV_VAR", judge_gguf=None, limit=2, max_tokens=6, k=2,
                               data_dir=tmp_path, models_dir=None, mode="open", seed=0)
    assert result["mode"] == "open" and result["n"] == 2 and len(stub.seen) == 4
    rows = [json.loads(line) for line in open(tmp_path / "out" / "judge.jsonl")]
    for row, (a, b) in zip(rows, zip(stub.seen[::2], stub.seen[1::2])):
        shown = a["body"]["messages"][-1]["content"]
        assert f"Exam question: {row['question']}" in shown and "Answer 1:" in shown
        assert explanations(b["body"]["messages"][-1]["content"]) == explanations(shown)[::-1]  # swapped
        assert a["body"]["temperature"] == 0
        rag, plain = len(row["with_rag"] or "(empty)"), len(row["without_rag"] or "(empty)")
        assert row["outcome"] == ("win" if rag > plain else "loss" if rag < plain else "tie")
        assert row["passages"] == ["notes/facts.md:1-3"]
    assert "Explain your reasoning step by step" in open_prompt("Why?")
    assert "(open): RAG answer wins" in capsys.readouterr().out
