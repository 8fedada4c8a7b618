"""DPO reward accuracy and the transformers scorer, on a tiny Llama built from a config."""

from __future__ import annotations

import json

import pytest

from probllms_tui.core.prompt import (
    cloze_continuation,
    letter_continuation,
    render_cloze_prefix,
    render_letter_prompt,
    render_open_prompt,
    response_text,
)
from probllms_tui.core.readers import read_bank

from .conftest import SEED_ROWS, probllms_train, write_jsonl

PAIRS = [
    {"prompt": "What is a queue?", "chosen": "A first in, first out list.", "rejected": "A kind of tree."},
    {"prompt": "What does binary search need?", "chosen": "A sorted array.", "rejected": "Nothing at all."},
    {"prompt": "Is every regular language context free?", "chosen": "Yes.", "rejected": "No, never."},
    {"prompt": "What is a prime number?", "chosen": "A number with exactly two divisors.", "rejected": "An even number."},
    {"prompt": "What does a hash table store?", "chosen": "Keys mapped to values.", "rejected": "Only sorted keys."},
]
BETA = 0.1


@pytest.fixture(scope="module")
def run_dir(tiny_hf, tmp_path_factory):
    """A run folder as training writes it (adapter/, run.json, recipe.yaml), with a LoRA whose
    weights are random (init_lora_weights=False) so policy and reference really differ."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_hf))
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False, task_type="CAUSAL_LM"))
    model.save_pretrained(str(run / "adapter"))
    from probllms_train.train.run_record import RunRecord

    RunRecord(status="finished", base_model=str(tiny_hf), adapter="adapter").save(run)
    (run / "recipe.yaml").write_text(f"name: test\ndpo:\n  beta: {BETA}\n")
    return run


def _direct_logp(model, tok, prompt: str, response: str) -> float:
    """log pi(response | prompt), token by token from one forward pass of the full sequence."""
    import torch

    p = [tok.bos_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
    r = tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([p + r])).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    return sum(float(logp[len(p) - 1 + i, t]) for i, t in enumerate(r))


@pytest.mark.slow
def test_reward_accuracy_matches_direct_computation(run_dir, tiny_hf, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from probllms_train.bench.reward import reward_accuracy_for_run

    pairs = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    result = reward_accuracy_for_run(run_dir, pairs, out=tmp_path / "out")
    assert result["beta"] == BETA and result["n"] == len(PAIRS)

    tok = AutoTokenizer.from_pretrained(str(tiny_hf))
    ref = AutoModelForCausalLM.from_pretrained(str(tiny_hf), dtype=torch.float32).eval()  # a separate reference model
    policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_hf), dtype=torch.float32),
                                       str(run_dir / "adapter")).eval()
    rows = [json.loads(l) for l in open(tmp_path / "out" / "reward_pairs.jsonl")]
    wins = 0
    for pair, row in zip(PAIRS, rows):
        prompt = render_open_prompt(pair["prompt"])
        rewards = [BETA * (_direct_logp(policy, tok, prompt, response_text(pair[k]))
                           - _direct_logp(ref, tok, prompt, response_text(pair[k]))) for k in ("chosen", "rejected")]
        assert row["chosen_reward"] == pytest.approx(rewards[0], abs=1e-6)
        assert row["rejected_reward"] == pytest.approx(rewards[1], abs=1e-6)
        wins += rewards[0] > rewards[1]
    assert result["reward_accuracy"] == pytest.approx(wins / len(PAIRS))
    assert any(abs(r["margin"]) > 1e-6 for r in rows)  # the adapter really changes the model


def test_reward_cli_errors(tmp_path):
    proc = probllms_train("bench", "reward", "--run", str(tmp_path / "nope"), "--pairs", str(tmp_path / "p.jsonl"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "run folder not found" in proc.stderr
    assert proc.stderr.count("\n") == 1


@pytest.mark.slow
def test_hf_scorer_matches_direct_computation(tiny_hf):
    """Same prompt strings and rules as the engine: letter = logits of " A".." D" after the
    letter prompt; cloze = summed option log-probs, normalised by the engine's rule."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from probllms_tui.core.registry import DEFAULT_CLOZE_NORM
    from probllms_tui.engine.cloze import OptionLikelihood, normalise
    from probllms_train.bench.models import open_scorer, resolve_model

    spec = resolve_model(str(tiny_hf))
    assert spec.kind == "hf" and spec.size_bytes > 0
    scorer = open_scorer(spec, n_ctx=512, method="cloze")
    tok = AutoTokenizer.from_pretrained(str(tiny_hf))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_hf), dtype=torch.float32).eval()
    bank = write_jsonl(tiny_hf.parent / "bank.jsonl", SEED_ROWS)
    for q in read_bank(bank).questions[:2]:
        ids = [tok.bos_token_id] + tok(render_letter_prompt(q), add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            last = model(input_ids=torch.tensor([ids])).logits[0, -1]
        want = {l: float(last[tok(letter_continuation(l), add_special_tokens=False)["input_ids"][-1]]) for l in q.letters}
        got = scorer.score(q, (), "letter")
        assert got.scores == pytest.approx(want, abs=1e-4)
        assert got.answer == max(want, key=want.get)

        raw, lengths = {}, {}
        prefix = [tok.bos_token_id] + tok(render_cloze_prefix(q), add_special_tokens=False)["input_ids"]
        for l, o in zip(q.letters, q.options):
            whole = [tok.bos_token_id] + tok(render_cloze_prefix(q) + cloze_continuation(o), add_special_tokens=False)["input_ids"]
            cont = whole[len(prefix):]
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=torch.tensor([whole])).logits[0].double(), -1)
            raw[l] = sum(float(logp[len(prefix) - 1 + i, t]) for i, t in enumerate(cont))
            lengths[l] = len(cont)
        got = scorer.score(q, (), "cloze")
        want = normalise({l: OptionLikelihood(raw[l], lengths[l], len(cloze_continuation(o).encode()))
                          for l, o in zip(q.letters, q.options)}, DEFAULT_CLOZE_NORM)  # the engine's own rule
        assert got.scores == pytest.approx(want, abs=1e-4)
    scorer.close()


@pytest.mark.slow
def test_mcqa_runs_hf_models_and_adapters(tiny_hf, run_dir, tmp_path):
    bank = write_jsonl(tmp_path / "bank.jsonl", SEED_ROWS)
    from typer.testing import CliRunner

    from probllms_train.bench.cli import bench_app

    # In-process (torch is already imported here): the CLI path without a second interpreter.
    res = CliRunner().invoke(bench_app, ["mcqa", "-m", str(tiny_hf), "-m", str(run_dir), "-d", str(bank),
                                         "-o", str(tmp_path / "out"), "--no-progress"])
    assert res.exit_code == 0, res.output
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    kinds = {r["model_kind"] for r in results["runs"]}
    assert kinds == {"hf", "peft"} and all(r["n"] == 4 and r["method"] == "cloze" for r in results["runs"])
    assert results["comparisons"][0]["n_paired"] == 4


@pytest.mark.slow
def test_hf_scorer_pmi_subtracts_the_neutral_pass(tiny_hf):
    """cloze_norm="pmi": each option's log-likelihood after the question minus the same after
    "Answer:" alone, both computed here from full forward passes."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from probllms_tui.core.prompt import CLOZE_UNCONDITIONAL_PREFIX
    from probllms_train.bench.hf_scorer import HFScorer
    from probllms_train.bench.models import resolve_model

    tok = AutoTokenizer.from_pretrained(str(tiny_hf))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_hf), dtype=torch.float32).eval()

    def loglik(prefix: str, option: str) -> float:
        ctx = [tok.bos_token_id] + tok(prefix, add_special_tokens=False)["input_ids"]
        whole = [tok.bos_token_id] + tok(prefix + cloze_continuation(option), add_special_tokens=False)["input_ids"]
        assert whole[:len(ctx)] == ctx
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([whole])).logits[0].double(), -1)
        return sum(float(logp[i - 1, whole[i]]) for i in range(len(ctx), len(whole)))

    spec = resolve_model(str(tiny_hf))
    pmi = HFScorer.load(spec, n_ctx=512, method="cloze", cloze_norm="pmi")
    token = HFScorer.load(spec, n_ctx=512, method="cloze", cloze_norm="token")
    for q in read_bank(write_jsonl(tiny_hf.parent / "bank-pmi.jsonl", SEED_ROWS)).questions[:2]:
        want = {l: loglik(render_cloze_prefix(q), o) - loglik(CLOZE_UNCONDITIONAL_PREFIX, o)
                for l, o in zip(q.letters, q.options)}
        got = pmi.score(q, (), "cloze")
        assert got.scores == pytest.approx(want, abs=1e-4)
        assert got.scores != pytest.approx(token.score(q, (), "cloze").scores, abs=1e-2)
        assert pmi.score_many([q], None, "cloze")[0].scores == got.scores
