"""Score MCQs with a transformers model (optionally a PEFT adapter) exactly as the engine does.

Same prompt strings (probllms_tui.core.prompt), same tokenisation rules (BOS + text, no
special-token parsing; cloze continuations taken from the joint tokenisation of context +
option, as lm-evaluation-harness does), same scores:
- letter: the next-token logit of " A", " B", ... after the letter prompt;
- cloze: the summed log-probability of each option's tokens, normalised by the engine's rule
  (``cloze_normalise``).
The softmax over those scores gives the probabilities, the argmax the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from probllms_tui.core.errors import InputError, ModelLoadError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import (
    Passage,
    cloze_continuation,
    letter_continuation,
    render_cloze_prefix,
    render_letter_prompt,
)
from probllms_tui.core.registry import DEFAULT_CLOZE_NORM
from probllms_tui.engine.base import METHODS, OptionScorer
from probllms_tui.engine.cloze import OptionLikelihood, normalise


def cloze_normalise(raw: dict[str, float], lengths: dict[str, int], n_bytes: dict[str, int],
                    norm: str = DEFAULT_CLOZE_NORM) -> dict[str, float]:
    """The engine's own cloze normalisation (probllms_tui/engine/cloze.py), applied to summed
    log-probs, token counts and byte counts. ``norm`` defaults to the registry's default, which
    is what GGUF models use unless their manifest names another; ``pmi`` needs the
    unconditional pass, which this scorer does not run."""
    options = {k: OptionLikelihood(logprob=raw[k], n_tokens=lengths[k], n_bytes=n_bytes[k]) for k in raw}
    return normalise(options, norm)


class HFScorer(OptionScorer):
    quantization = "HF"

    def __init__(self, model, tokenizer, *, name: str, n_ctx: int, method: str):
        self.model = model
        self.tok = tokenizer
        self.name = name
        self.n_ctx = n_ctx
        if method not in METHODS:
            raise InputError(f"unknown scoring method {method!r}; use one of {', '.join(METHODS)}")
        self.default_method = method

    @classmethod
    def load(cls, spec, *, n_ctx: int = 2048, method: str = "cloze") -> "HFScorer":
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
        return cls(model, tok, name=spec.name, n_ctx=n_ctx, method=method)

    # --- tokens -------------------------------------------------------------------------
    def tokenize(self, text: str, *, bos: bool = True) -> list[int]:
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        bos_id = self.tok.bos_token_id
        return ([bos_id] + ids) if bos and bos_id is not None else ids

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, bos=False))

    def _check_fits(self, n: int) -> None:
        if n >= self.n_ctx:
            raise InputError(f"prompt is {n} tokens; the model context holds {self.n_ctx}")

    def _logits(self, batch: list[list[int]]):
        import torch

        width = max(len(s) for s in batch)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in batch])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch])
        with torch.no_grad():
            return self.model(input_ids=ids, attention_mask=mask).logits.float()

    # --- scoring ------------------------------------------------------------------------
    def _score_letter(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        tokens = self.tokenize(render_letter_prompt(q, passages))
        self._check_fits(len(tokens) + 1)
        last = self._logits([tokens])[0, -1]
        ids = {l: self.tokenize(letter_continuation(l), bos=False)[-1] for l in q.letters}
        return {l: float(last[i]) for l, i in ids.items()}, len(tokens)

    def cloze_raw(self, q: MCQ, passages: Sequence[Passage] = ()) -> tuple[dict[str, float], dict[str, int], int]:
        """Summed option log-probs and option token counts (before normalisation)."""
        import torch

        prefix = render_cloze_prefix(q, passages)
        ctx = self.tokenize(prefix)
        conts: dict[str, list[int]] = {}
        for letter, option in zip(q.letters, q.options):
            whole = self.tokenize(prefix + cloze_continuation(option))
            cont = whole[len(ctx):] if whole[: len(ctx)] == ctx else self.tokenize(cloze_continuation(option), bos=False)
            conts[letter] = cont or self.tokenize(cloze_continuation(option), bos=False)
        self._check_fits(len(ctx) + max(len(c) for c in conts.values()))
        logits = self._logits([ctx + c for c in conts.values()])
        logp = torch.log_softmax(logits.double(), dim=-1)
        raw, lengths = {}, {}
        for row, (letter, cont) in enumerate(conts.items()):
            pos = torch.arange(len(ctx) - 1, len(ctx) - 1 + len(cont))
            raw[letter] = float(logp[row, pos, torch.tensor(cont)].sum())
            lengths[letter] = len(cont)
        return raw, lengths, len(ctx)

    def _score_cloze(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        raw, lengths, n_ctx = self.cloze_raw(q, passages)
        n_bytes = {l: len(cloze_continuation(o).encode("utf-8")) for l, o in zip(q.letters, q.options)}
        return cloze_normalise(raw, lengths, n_bytes), n_ctx

    def close(self) -> None:
        self.model = None
