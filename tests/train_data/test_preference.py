"""`probllms-train data preference`: sources, drops, dedup, split, leakage, reproducibility."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from probllms_tui.core.errors import InputError
from probllms_tui.core.prompt import render_open_prompt, response_text
from probllms_train.data.preference.build import build_preference, write_preference
from probllms_train.data.preference.corrupt import OPS, RuleCorruptor, choose_ops, corrupt_answer
from probllms_train.data.preference.dedup import dedup, leaks, normalize
from probllms_train.data.preference.recipe import PreferenceRecipe, SourceSpec, load_recipe


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _recipe(fixtures: Path, **kw) -> PreferenceRecipe:
    base = dict(student=[SourceSpec(name="student", path=str(fixtures / "student.json"))],
                qa=[SourceSpec(name="camel-math", path=str(fixtures / "camel.jsonl"))],
                stack_exchange=[SourceSpec(name="stack-exchange", path=str(fixtures / "se.jsonl"))],
                tokenizer="words")
    return PreferenceRecipe(**(base | kw))


@pytest.fixture(scope="module")
def built(tmp_path_factory, request):
    fixtures = Path(__file__).parent / "fixtures"
    out = tmp_path_factory.mktemp("pref")
    build = build_preference(_recipe(fixtures), out)
    write_preference(build, out)
    return out, build


def test_student_pairs_follow_overall_and_drops_are_counted(built, fixtures):
    out, build = built
    drops = build.report["drops"]
    assert drops["student: neither answer correct"]["count"] == 1
    assert drops["student: overall is not A or B"]["count"] == 1
    assert drops["student: exact duplicate"]["count"] == 1
    # the drop names the item's line in the JSON list and which preference it was
    text = (fixtures / "student.json").read_text().splitlines()
    where = drops["student: neither answer correct"]["examples"][0]
    line = int(where.split(":")[-1].split()[0])
    assert text[line - 1].strip() == "{" and "(preference 3)" in where
    raw = json.loads((fixtures / "student.json").read_text())
    expected = {}
    for item in raw:
        for p in item["preference"]:
            if p["overall"] in "AB" and p["criteria"]["correctness"] != "None":
                chosen = p[p["overall"]]
                expected[(render_open_prompt(item["question_complete"]), response_text(chosen))] = True
    student = [r for r in _jsonl(out / "student_train.jsonl") + _jsonl(out / "test.jsonl")]
    assert len(student) == 21 - 1  # 21 valid pairs, one exact duplicate removed
    for r in student:
        assert (r["prompt"], r["chosen"]) in expected
        assert r["prompt"].startswith("Question: ") and r["prompt"].endswith("\n\nAnswer:")
        assert "Question: Question:" not in r["prompt"]


def test_test_split_is_student_only_and_never_in_train(built):
    out, build = built
    train, test, student_train = (_jsonl(out / f) for f in ("train.jsonl", "test.jsonl", "student_train.jsonl"))
    assert {r["source"] for r in test} == {"student"}
    assert 3 <= len(test) <= 5  # ~20% of 20 pairs, whole questions
    test_prompts = {normalize(r["prompt"]) for r in test}
    assert not any(normalize(r["prompt"]) in test_prompts for r in train)
    assert [r for r in train if r["source"] == "student"] != [] and \
        sorted(map(json.dumps, student_train)) == sorted(json.dumps(r) for r in train if r["source"] == "student")
    assert {r["source"] for r in train} == {"student", "camel-math", "stack-exchange"}
    assert build.report["per_source"]["camel-math"]["test"] == 0


def test_corrupted_pairs_come_from_the_good_answer(built, fixtures):
    out, build = built
    camel = {(r.get("message_1") or r["question"]): (r.get("message_2") or r["answer"])
             for r in _jsonl(fixtures / "camel.jsonl")}
    pairs = [r for r in _jsonl(out / "train.jsonl") if r["source"] == "camel-math"]
    dropped = sum(d["count"] for k, d in build.report["drops"].items() if k.startswith("camel-math"))
    assert len(pairs) + dropped == len(camel)
    for r in pairs:
        question = r["prompt"][len("Question: "):-len("\n\nAnswer:")]
        assert r["chosen"] == response_text(camel[question])
        assert r["rejected"] != r["chosen"]
    assert sum(build.report["corruption_ops"].values()) == len(pairs)
    assert build.report["corruption_backend"] == "rule"


def test_stack_exchange_rule(built, fixtures):
    out, build = built
    se = [r for r in _jsonl(out / "train.jsonl") if r["source"] == "stack-exchange"]
    assert {r["origin"].rsplit(":", 1)[1] for r in se} == {"1", "2"}
    sky = next(r for r in se if "sky" in r["prompt"])
    assert sky["chosen"].startswith(" Rayleigh scattering") and "<p>" not in sky["chosen"]
    assert sky["rejected"] in (" Because the ocean reflects onto it.", " Because of the atmosphere.")
    drops = build.report["drops"]
    assert drops["stack-exchange: best answer scored < 10"]["examples"][0].endswith("se.jsonl:3")
    assert drops["stack-exchange: site not selected"]["examples"][0].endswith("se.jsonl:4")
    assert drops["stack-exchange: no answer scored 3..5"]["examples"][0].endswith("se.jsonl:5")


def test_report_adds_up_and_has_lengths(built):
    _, build = built
    r = build.report
    assert r["written"]["train"] == sum(v["train"] for v in r["per_source"].values())
    late = ("same text", "duplicate", "leaks into test")
    for src, n in r["pairs_built"].items():
        late_drops = sum(d["count"] for k, d in r["drops"].items()
                         if k.startswith(f"{src}:") and any(w in k for w in late))
        assert n == r["per_source"][src]["train"] + r["per_source"][src]["test"] + late_drops, src
    assert r["pairs_built"]["student"] == 21 and r["pairs_built"]["stack-exchange"] == 2
    assert r["lengths"]["train"]["chosen"]["p50"] > 0 and set(r["lengths"]["train"]) == {"prompt", "chosen", "rejected"}


def test_same_seed_byte_identical_other_seed_differs(built, tmp_path, fixtures):
    out, _ = built
    again = tmp_path / "again"
    write_preference(build_preference(_recipe(fixtures), again), again)
    for name in ("train.jsonl", "test.jsonl", "student_train.jsonl", "report.json"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    other = tmp_path / "other"
    write_preference(build_preference(_recipe(fixtures, seed=1), other), other)
    assert (out / "train.jsonl").read_bytes() != (other / "train.jsonl").read_bytes()


def test_leaked_prompts_are_reported_and_removed(built, tmp_path, fixtures):
    out, _ = built
    test_q = _jsonl(out / "test.jsonl")[0]["prompt"][len("Question: "):-len("\n\nAnswer:")]
    train_q = _jsonl(out / "student_train.jsonl")[0]["prompt"][len("Question: "):-len("\n\nAnswer:")]
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"prompt": test_q.upper() + "  ", "chosen": "x y z", "rejected": "z y"}) + "\n"
                  + json.dumps({"prompt": train_q, "chosen": "a b c", "rejected": "c b"}) + "\n"
                  + json.dumps({"prompt": "Define a monoid", "chosen": "A set with ...", "rejected": "No."}) + "\n")
    recipe = _recipe(fixtures, qa=[SourceSpec(name="cs", path=str(qa))])
    build = build_preference(recipe, tmp_path / "o")
    leak = build.report["leakage"]
    assert leak["removed_from_train"] == 1 and leak["overlaps"][0]["train"] == f"{qa}:1"
    assert leak["overlaps"][0]["kind"] == "exact"  # case and spacing do not hide a copy
    assert {p.where for p in build.train if p.source == "cs"} == {f"{qa}:2", f"{qa}:3"}


def test_near_duplicates_are_found_and_exact_different_answers_kept():
    base = ("the gradient of the loss with respect to the weights is computed by backpropagation through every "
            "layer of the network and then an optimizer such as stochastic gradient descent or adam uses it to "
            "update the parameters in the direction that lowers the loss on the current mini batch of examples")
    items = [base, base.replace("every", "each"), "a completely different answer about hash tables and their buckets"]
    kept, removed = dedup(items, lambda s: s, threshold=0.8)
    assert kept == [items[0], items[2]] and removed[0][1] == "near"
    hits = leaks(["hash tables and their buckets"], ["HASH tables  and their buckets"], lambda s: s, 0.8)
    assert hits[0][1] == "exact"


def test_sample_budget_is_seeded_and_counted(tmp_path, fixtures):
    recipe = _recipe(fixtures, qa=[SourceSpec(name="camel-math", path=str(fixtures / "camel.jsonl"), sample=3)])
    build = build_preference(recipe, tmp_path)
    assert build.report["drops"]["camel-math: over the --sample budget"]["count"] == 3
    assert build.report["rows_read"]["camel-math"] == 6


def test_rule_corruptor_ops():
    rng = random.Random(0)
    c = RuleCorruptor()
    a = "The gradient is computed first. Then the weights are updated. The loss will decrease over time."
    removed = c.corrupt("REMOVE", "q", a, rng)
    kept = [x.rstrip(".") for x in removed.split(". ")]
    assert len(kept) == 2 and all(x.rstrip(".") in a for x in kept)  # a third of 3 sentences gone
    assert c.corrupt("SUBSTITUTE", "q", a, rng) != a
    inserted = c.corrupt("INSERT", "q", a, rng)
    assert len(inserted) > len(a) and all(s in inserted for s in a.split(". "))
    ops = choose_ops(0, "q", a)
    assert len(set(ops)) == 2 and set(ops) <= set(OPS) and ops == choose_ops(0, "q", a)
    rejected, used = corrupt_answer(c, "q", a, seed=0)
    assert used == ops and rejected != a


def test_bad_rows_stop_with_file_line_or_are_counted(tmp_path, fixtures):
    camel = tmp_path / "camel.jsonl"
    camel.write_text((fixtures / "camel.jsonl").read_text() + '{"message_1": "Q?"}\n{broken\n')
    recipe = _recipe(fixtures, qa=[SourceSpec(name="camel-math", path=str(camel))])
    with pytest.raises(InputError) as err:
        build_preference(recipe, tmp_path / "o")
    assert str(err.value) == f"{camel}:7: missing 'message_2' or 'answer'"
    build = build_preference(recipe.model_copy(update={"skip_bad": True}), tmp_path / "o")
    drops = build.report["drops"]
    assert drops["malformed: missing 'message_2' or 'answer'"]["examples"] == [f"{camel}:7"]
    bad_json = "malformed: invalid JSON (Expecting property name enclosed in double quotes)"
    assert drops[bad_json]["examples"] == [f"{camel}:8"]


def test_bad_student_item_names_its_line(tmp_path, fixtures):
    student = tmp_path / "student.json"
    student.write_text('[\n  {"question_complete": "Q1?", "preference": []},\n\n  {"question_complete": "Q2?",'
                       ' "preference": [{"A": "a", "B": 3, "overall": "A"}]}\n]\n')
    recipe = _recipe(fixtures, student=[SourceSpec(name="student", path=str(student))])
    with pytest.raises(InputError) as err:
        build_preference(recipe, tmp_path / "o")
    assert str(err.value) == f"{student}:4 (preference 1): 'B' must be a non-empty string"


def test_cli_flags_and_recipe_yaml(cli, tmp_path, fixtures):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"seed: 0\ntokenizer: words\nqa:\n  - name: camel-math\n    path: {fixtures / 'camel.jsonl'}\n")
    out = tmp_path / "out"
    res = cli("preference", "--out", out, "--config", recipe, "--student", fixtures / "student.json",
              "--stack-exchange", fixtures / "se.jsonl", "--sample", "camel-math=2", "--se-sites", "math")
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["drops"]["camel-math: over the --sample budget"]["count"] == 4
    assert report["drops"]["stack-exchange: site not selected"]["count"] == 3  # physics, cooking, cs
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 0\nstudnet: []\n")
    with pytest.raises(InputError, match="studnet"):
        load_recipe(bad)
    res = cli("preference", "--out", out, "--student", fixtures / "student.json", "--sample", "nope=3")
    assert res.exit_code != 0 and "no source named 'nope'" in str(res.exception)
    res = cli("preference", "--out", out, "--student", fixtures / "student.json", "--backend", "magic")
    assert isinstance(res.exception, InputError) and "corruption.backend" in str(res.exception)


def test_cs_theory_qa_passes_through(tmp_path, fixtures, shared_data):
    src = shared_data / "cs_theoryQA.jsonl"
    recipe = _recipe(fixtures, qa=[SourceSpec(name="cs-theory", path=str(src))], stack_exchange=[])
    build = build_preference(recipe, tmp_path)
    cs = [p for p in build.train if p.source == "cs-theory"]
    dropped = sum(d["count"] for k, d in build.report["drops"].items() if k.startswith("cs-theory"))
    assert build.report["rows_read"]["cs-theory"] == 144 == len(cs) + dropped
    raw = {r["prompt"]: r for r in _jsonl(src)}
    for p in cs[:20]:
        q = p.prompt[len("Question: "):-len("\n\nAnswer:")]
        assert p.prompt == render_open_prompt(q) and p.chosen == response_text(raw["Question: " + q]["chosen"])


def test_shipped_recipe_loads_with_the_recipe_budgets():
    recipe = load_recipe(Path(__file__).resolve().parents[2] / "probllms_train/data/recipes/probllms-preference.yaml")
    budgets = {s.name: s.sample for s in recipe.qa}
    assert budgets["camel-math"] == 2500 and budgets["camel-physics"] == 3000
    assert recipe.test_fraction == 0.2 and all(s.path.startswith("hub:") for s in recipe.stack_exchange)


def test_same_text_pairs_and_max_rows_are_counted(tmp_path, fixtures):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"prompt": "Q1", "chosen": "Same  answer.", "rejected": "same answer."}) + "\n"
                  + json.dumps({"prompt": "Q2", "chosen": "Good.", "rejected": "Bad."}) + "\n"
                  + json.dumps({"prompt": "Q3", "chosen": "Good.", "rejected": "Bad."}) + "\n")
    recipe = _recipe(fixtures, qa=[SourceSpec(name="cs", path=str(qa), max_rows=2)], stack_exchange=[])
    build = build_preference(recipe, tmp_path / "o")
    assert build.report["drops"]["cs: chosen and rejected are the same text"]["examples"] == [f"{qa}:1"]
    assert build.report["rows_read"]["cs"] == 2
    assert [p.where for p in build.train if p.source == "cs"] == [f"{qa}:2"]


def test_cli_bad_row_exits_2_with_one_line(tmp_path, fixtures):
    import subprocess
    import sys

    se = tmp_path / "se.jsonl"
    se.write_text('{"question": "Q?", "answers": [{"text": "a", "pm_score": "high"}]}\n')
    proc = subprocess.run([sys.executable, "-m", "probllms_train.cli", "data", "preference", "--out",
                           str(tmp_path / "o"), "--student", str(fixtures / "student.json"),
                           "--stack-exchange", str(se), "--tokenizer", "words"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {se}:1: answer 'pm_score' must be a number"]
    assert not (tmp_path / "o" / "train.jsonl").exists()  # nothing half-written


def test_student_ranking_criteria_spelling(tmp_path):
    from probllms_train.data.preference.student import student_pairs
    from probllms_train.data.rows import BadRowPolicy, Tally, read_rows

    f = tmp_path / "m1.json"
    f.write_text(json.dumps([{"question_id": 1, "course_id": 7, "question_complete": "Q?", "preference": [
        {"A": "good", "B": "bad", "ranking_criteria": {"overall": "A", "correctness": "A"}},
        {"A": "bad", "B": "worse", "ranking_criteria": {"overall": "B", "correctness": "None"}},
        # null: correctness not judged, unlike the string "None" (neither correct): kept
        {"A": "fine", "B": "meh", "ranking_criteria": {"overall": "A", "correctness": None}}]}]))
    drops = Tally()
    pairs = list(student_pairs(read_rows(f, BadRowPolicy(False, drops)), BadRowPolicy(False, drops), drops))
    assert [(p.chosen, p.rejected) for p in pairs] == [(" good", " bad"), (" fine", " meh")]
    assert drops.counts == {"student: neither answer correct": 1}


def test_token_lengths_with_a_tokenizer_folder(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from probllms_train.data.preference.lengths import token_counter

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["what is a monoid ?"], trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    desc, count, close = token_counter(str(tmp_path / "tok"))
    assert desc == "tok (HF tokenizer)" and count("what is a monoid ?") == 5 and count("a b") == 2
    close()
