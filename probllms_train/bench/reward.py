"""`bench reward`: the DPO implicit-reward accuracy of a trained adapter on held-out pairs.

r(x, y) = beta * (log pi(y|x) - log pi_ref(y|x)), where log pi(y|x) sums the log-probs of the
response tokens after the prompt, pi is base + adapter and pi_ref the same model with the
adapter switched off (as TRL trains it with a PEFT model: no second model). Reward accuracy
is the share of pairs with r(chosen) > r(rejected): the recipe's Table 1 metric.

Pairs are read and rendered by the training code's own reader (``read_pairs``), so a pair is
scored exactly as it was trained on: prompt = BOS + render_open_prompt(...), response =
response_text(...) + EOS.
"""

from __future__ import annotations

import json
from pathlib import Path

from probllms_tui.core.errors import InputError, ModelLoadError
from probllms_train.bench.models import adapter_base, adapter_folder
from probllms_train.bench.stats import wilson_interval


def run_beta(run_dir: Path) -> float | None:
    """beta from run.json (``RunRecord.beta``), else the run's resolved recipe.yaml (``dpo.beta``)."""
    from probllms_train.train.run_record import RunRecord

    if RunRecord.exists(run_dir):
        beta = RunRecord.load(run_dir).beta
        if beta:
            return float(beta)
    recipe = run_dir / "recipe.yaml"
    if recipe.exists():
        import yaml

        beta = ((yaml.safe_load(recipe.read_text(encoding="utf-8")) or {}).get("dpo") or {}).get("beta")
        if beta:
            return float(beta)
    return None


def response_logps(model, tokenizer, prompt: str, responses: list[str]) -> list[float]:
    """Summed log pi(response | prompt) for each response (one padded batch).

    Tokenized as the pairs are trained (module docstring): BOS + the prompt's ids, then each
    response's own ids + EOS, not the MCQ scorer's joint tokenisation of the two.
    """
    from probllms_train.bench.hf_scorer import batch_logprobs, pad_id

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    conts = [ids(r) + eos for r in responses]
    return [lp for lp, _ in batch_logprobs(model, pad_id(tokenizer), bos + ids(prompt), conts)]


def pair_rewards(peft_model, tokenizer, pairs, beta: float) -> list[dict]:
    rows = []
    for pair in pairs:
        policy = response_logps(peft_model, tokenizer, pair.prompt, [pair.chosen, pair.rejected])
        with peft_model.disable_adapter():
            ref = response_logps(peft_model, tokenizer, pair.prompt, [pair.chosen, pair.rejected])
        chosen = beta * (policy[0] - ref[0])
        rejected = beta * (policy[1] - ref[1])
        rows.append({"chosen_reward": chosen, "rejected_reward": rejected,
                     "margin": chosen - rejected, "correct": chosen > rejected,
                     "source": pair.source})
    return rows


def load_adapter_model(adapter: Path, base: str, tokenizer_dir: Path | None):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir or base))
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        model = PeftModel.from_pretrained(model, str(adapter))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load adapter {adapter} on {base}: {str(exc).splitlines()[0]}") from None
    model.eval()
    return model, tok


def reward_accuracy_for_run(run: Path, pairs_path: Path, *, beta: float | None = None,
                            limit: int | None = None, out: Path | None = None) -> dict:
    from probllms_train.train.data import read_pairs

    if not run.is_dir():
        raise InputError("run folder not found", where=str(run))
    adapter = adapter_folder(run)
    if adapter is None:
        raise InputError("no PEFT adapter here (adapter_config.json, or adapter/ in a run folder)", where=str(run))
    if not pairs_path.is_file():
        raise InputError("file not found", where=str(pairs_path))
    beta = beta if beta is not None else run_beta(run)
    if beta is None:
        raise InputError("no DPO beta in run.json or recipe.yaml; pass --beta", where=str(run))
    pairs = read_pairs(pairs_path)[:limit] if limit else read_pairs(pairs_path)
    tok_dir = run / "tokenizer" if (run / "tokenizer").is_dir() else None
    model, tok = load_adapter_model(adapter, adapter_base(adapter), tok_dir)
    rows = pair_rewards(model, tok, pairs, beta)
    n = len(rows)
    k = sum(r["correct"] for r in rows)
    result = {"run": str(run), "pairs": str(pairs_path), "beta": beta, "n": n,
              "reward_accuracy": k / n, "ci95": list(wilson_interval(k, n)),
              "mean_margin": sum(r["margin"] for r in rows) / n,
              "mean_chosen_reward": sum(r["chosen_reward"] for r in rows) / n,
              "mean_rejected_reward": sum(r["rejected_reward"] for r in rows) / n}
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "reward.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        with (out / "reward_pairs.jsonl").open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    return result
