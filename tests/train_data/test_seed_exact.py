"""--seed-exact: the progress report's data choices, each pinned; the safer defaults stay."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from probllms_train.data.preference.build import build_preference, write_preference
from probllms_train.data.preference.corrupt import instruction
from probllms_train.data.preference.recipe import CorruptionSpec, PreferenceRecipe, SourceSpec, load_recipe
from probllms_train.data.preference.stackexchange import DEFAULT_SITES, pm_score_of, upvotes_for_pm_score

RECIPES = Path(__file__).resolve().parents[2] / "probllms_train" / "data" / "recipes"
REPORT_REMOVE = ("You are an adversarial actor trying to corrupt the correct answers. Your goal is to "
                 "REMOVE some answer content that is useful to the question.")
WORDS = ("graph tree heap stack queue matrix vector prime integral limit series entropy gradient kernel "
         "tensor lattice proof lemma bound field ring group norm basis orbit spin photon charge").split()


def _student_file(path: Path, questions: int = 40, pairs_each: int = 3) -> Path:
    """Many questions with several pairs each: what a per-pair split can cut through."""
    rng = random.Random(7)
    records = []
    for q in range(questions):
        prefs = [{"A": " ".join(rng.choices(WORDS, k=14)), "B": " ".join(rng.choices(WORDS, k=14)),
                  "overall": "A", "criteria": {"correctness": "A"}} for _ in range(pairs_each)]
        records.append({"question_id": q, "question_complete": f"Question {q}: " + " ".join(rng.choices(WORDS, k=8)),
                        "preference": prefs})
    path.write_text(json.dumps(records))
    return path


def _prompt_sides(out: Path) -> tuple[set[str], set[str]]:
    rows = lambda name: [json.loads(line) for line in (out / name).read_text().splitlines()]  # noqa: E731
    return {r["prompt"] for r in rows("student_train.jsonl")}, {r["prompt"] for r in rows("test.jsonl")}


def test_split_per_pair_as_the_report_versus_by_question(tmp_path):
    students = _student_file(tmp_path / "students.json")
    base = PreferenceRecipe(student=[SourceSpec(name="student", path=str(students))], tokenizer="words")

    default = build_preference(base, tmp_path / "q")
    write_preference(default, tmp_path / "q")
    train_q, test_q = _prompt_sides(tmp_path / "q")
    assert not train_q & test_q  # default: no question on both sides

    exact = build_preference(base.seed_exact(), tmp_path / "p")
    write_preference(exact, tmp_path / "p")
    train_p, test_p = _prompt_sides(tmp_path / "p")
    shared = train_p & test_p
    assert shared, "a per-pair split puts pairs of one question on both sides"
    n = exact.report["written"]
    assert n["student_train"] + n["test"] == 120  # nothing removed as leakage: kept, counted
    assert 0.1 < n["test"] / 120 < 0.3
    assert exact.report["split"] == "pair" and exact.report["leakage"]["removed_from_train"] == 0
    assert exact.report["leakage"]["overlapping_prompts"] >= len(shared)


class _Recorder:
    """An OpenAI-compatible endpoint on 127.0.0.1 that records prompts and appends a marker."""

    def __init__(self):
        self.prompts: list[str] = []
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][0]["content"]
                rec.prompts.append(prompt)
                answer = prompt.rsplit("Answer: ", 1)[1]
                data = json.dumps({"choices": [{"message": {"content": f"{answer} (changed {len(rec.prompts)})"}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_llm_backends_send_the_report_appendix_a_prompts(tmp_path, fixtures, monkeypatch):
    monkeypatch.setenv("REC_KEY", "k")
    rec = _Recorder()
    try:
        recipe = PreferenceRecipe(
            student=[SourceSpec(name="student", path=str(fixtures / "student.json"))],
            qa=[SourceSpec(name="camel-math", path=str(fixtures / "camel.jsonl"), sample=2)],
            corruption=CorruptionSpec(backend="openai", model="m", base_url=rec.url, api_key_env="REC_KEY",
                                      cache=str(tmp_path / "c.sqlite")),
            tokenizer="words").seed_exact()
        build_preference(recipe, tmp_path / "out")
    finally:
        rec.server.shutdown()
        rec.server.server_close()
    assert len(rec.prompts) == 4  # two operations for each of the two examples
    assert all(p.startswith("You are an adversarial actor trying to corrupt the correct answers.")
               for p in rec.prompts)
    removes = [p for p in rec.prompts if "REMOVE" in p]
    assert all(p.startswith(REPORT_REMOVE) for p in removes)
    # the default stays this project's rewording
    assert not instruction("REMOVE", "q", "a").startswith("You are an adversarial actor")
    assert instruction("REMOVE", "q", "a", "report").startswith(REPORT_REMOVE)
    for op, verb in (("SUBSTITUTE", "EDIT"), ("INSERT", "ADD")):
        assert f"Your goal is to {verb} some answer content" in instruction(op, "q", "a", "report")


def test_pm_score_is_the_datasets_log_scale():
    # round(log2(1 + upvotes)), +1 if accepted: the thresholds in votes the docs quote
    assert pm_score_of(0) == 0 and pm_score_of(1) == 1 and pm_score_of(-3) == -1
    assert upvotes_for_pm_score(10) == 724 and upvotes_for_pm_score(10, accepted=True) == 362
    assert upvotes_for_pm_score(3) == 5 and upvotes_for_pm_score(6) - 1 == 44  # pm 3..5 = 5..44 votes
    # the fixture sits on that scale: no answer claims millions of upvotes
    rows = [json.loads(line) for line in (Path(__file__).parent / "fixtures" / "se.jsonl").read_text().splitlines()]
    assert max(a["pm_score"] for r in rows for a in r["answers"]) <= 15


def test_score_field_is_named_not_guessed(tmp_path, fixtures):
    se = tmp_path / "se.jsonl"
    se.write_text(json.dumps({"question": "Q?", "answers": [{"text": "a", "score": 900}],
                              "metadata": ["https://math.stackexchange.com/q/1"]}) + "\n")
    recipe = PreferenceRecipe(student=[SourceSpec(name="student", path=str(fixtures / "student.json"))],
                              stack_exchange=[SourceSpec(name="se", path=str(se))], tokenizer="words")
    from probllms_tui.core.errors import InputError

    with pytest.raises(InputError, match=r"no 'pm_score' \(the recipe's se_rule.score_field\)"):
        build_preference(recipe, tmp_path / "o")


def test_seed_exact_recipe_holds_the_reports_volume_and_sites():
    exact = load_recipe(RECIPES / "probllms-preference-seed-exact.yaml")
    default = load_recipe(RECIPES / "probllms-preference.yaml")
    assert exact.split == "pair" and exact.test_fraction == 0.2 and exact.corruption.instructions == "report"
    assert default.split == "question" and default.corruption.instructions == "project"
    assert exact.se_rule.score_field == "pm_score" and (exact.se_rule.chosen_min, exact.se_rule.rejected_min,
                                                         exact.se_rule.rejected_max) == (10, 3, 5)
    se_total = sum(s.sample for s in exact.stack_exchange)
    assert se_total == 42000
    sites = {s.data_dir.split("/")[1].lower() for s in exact.stack_exchange}
    assert {"stackoverflow.com", "math.stackexchange.com", "physics.stackexchange.com",
            "cs.stackexchange.com"} <= sites
    assert "stackoverflow" in DEFAULT_SITES
    # the default recipe budgets less: the docs give both numbers
    assert sum(s.sample for s in default.stack_exchange) == 5000
    raw = yaml.safe_load((RECIPES / "probllms-preference-seed-exact.yaml").read_text())
    assert raw["corruption"]["instructions"] == "report"


def test_seed_exact_flag_on_the_cli(cli, fixtures, tmp_path):
    out = tmp_path / "o"
    res = cli("preference", "--out", out, "--student", fixtures / "student.json", "--tokenizer", "words",
              "--seed-exact")
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "pair" and report["recipe"]["corruption"]["instructions"] == "report"
    assert "split per pair (--seed-exact)" in res.output
