"""Score MCQs with a transformers model (optionally a PEFT adapter) exactly as the engine does.

``HFScorer`` is a ``ScoringTemplate`` (probllms_tui/engine/scoring.py), like the GGUF engine:
the template builds the prompts, the option tokens (joint tokenisation of context + option,
as lm-evaluation-harness does), the fit check and the normalisation (every ``cloze_norm``,
``pmi`` included), and turns scores into the answer and probabilities. This module supplies
the template's primitives on transformers:
- ``tokenize``: BOS + text, no special-token parsing;
- ``next_token_logits``: one forward pass of the letter prompt;
- ``continuation_logprobs``: per request, one padded batch of prefix + each option
  (``batch_logprobs``, the routine `bench reward` scores preference pairs with too).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from probllms_tui.core.errors import ModelLoadError
from probllms_tui.core.registry import DEFAULT_CLOZE_NORM
from probllms_tui.engine.cloze import OptionLikelihood, normalise
from probllms_tui.engine.scoring import ClozeItem, ScoringTemplate, Sums, check_choices


def cloze_normalise(raw: dict[str, float], lengths: dict[str, int], n_bytes: dict[str, int],
                    norm: str = DEFAULT_CLOZE_NORM) -> dict[str, float]:
    """The engine's own cloze normalisation (probllms_tui/engine/cloze.py), applied to summed
    log-probs, token counts and byte counts. ``norm`` defaults to the registry's default, which
    is what GGUF models use unless their manifest names another; ``pmi`` needs unconditional
    log-likelihoods, which this helper is not given."""
    options = {k: OptionLikelihood(logprob=raw[k], n_tokens=lengths[k], n_bytes=n_bytes[k]) for k in raw}
    return normalise(options, norm)


def pad_id(tokenizer) -> int:
    # Padded positions are masked out and never read, so any id serves where there is none.
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def batch_logprobs(model, pad: int, prefix: Sequence[int], conts: Sequence[Sequence[int]]) -> Sums:
    """Per continuation: (sum of log P(token | prefix and its tokens before it), token count),
    from one right-padded, masked batch of prefix + continuation, log-softmax in float64."""
    import torch

    seqs = [list(prefix) + list(c) for c in conts]
    width = max(map(len, seqs))
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    out = []
    for row, c in enumerate(conts):
        pos = torch.arange(len(prefix) - 1, len(prefix) - 1 + len(c))
        # log-softmax row by row, so only the rows read are taken to float64 (the same
        # numbers as over the whole batch, without its n_vocab x width x options copy)
        logp = torch.log_softmax(logits[row, pos].double(), dim=-1)
        out.append((float(logp[torch.arange(len(c)), torch.tensor(list(c))].sum()), len(c)))
    return out


class HFScorer(ScoringTemplate):
    quantization = "HF"

    def __init__(self, model, tokenizer, *, name: str, n_ctx: int, method: str,
                 cloze_norm: str = DEFAULT_CLOZE_NORM):
        check_choices(method, cloze_norm)
        self.model = model
        self.tok = tokenizer
        self.name = name
        self.n_ctx = n_ctx
        self.default_method = method
        self.cloze_norm = cloze_norm

    @classmethod
    def load(cls, spec, *, n_ctx: int = 2048, method: str = "cloze",
             cloze_norm: str = DEFAULT_CLOZE_NORM) -> "HFScorer":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source = spec.base if spec.kind == "peft" else str(spec.path)
        try:
            tok = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
            if spec.kind == "peft":
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, str(spec.path))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"transformers could not load {spec.arg}: {str(exc).splitlines()[0]}") from None
        model.eval()
        return cls(model, tok, name=spec.name, n_ctx=n_ctx, method=method, cloze_norm=cloze_norm)

    # --- the scoring template's primitives ----------------------------------------------
    def tokenize(self, text: str, *, bos: bool = True) -> list[int]:
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        bos_id = self.tok.bos_token_id
        return ([bos_id] + ids) if bos and bos_id is not None else ids

    def next_token_logits(self, tokens: Sequence[int]):
        import torch

        with torch.no_grad():
            return self.model(input_ids=torch.tensor([list(tokens)])).logits[0, -1].float()

    def continuation_logprobs(self, items: Sequence[ClozeItem]) -> tuple[list[Sums], list[float]]:
        sums, seconds = [], []
        for item in items:  # one request (a question's options) per forward pass
            t0 = time.perf_counter()
            sums.append(batch_logprobs(self.model, pad_id(self.tok), item.prefix, item.conts))
            seconds.append(time.perf_counter() - t0)
        return sums, seconds

    def close(self) -> None:
        self.model = None
