"""A GGUF's own chat template, rendered safely, for instruct models' explanations.

An instruct model answers best inside the turn markers it was tuned on, and those differ per
family (``<|im_start|>``, ``<start_of_turn>``, ``[INST]``...). The GGUF carries them as a
Jinja template (``tokenizer.chat_template``, the Hugging Face convention). The template comes
from a downloaded file, so it is rendered in Jinja's immutable sandbox: it can format
messages, not reach Python objects or change anything.

Only explanations go through it. Scoring keeps the one prompt format (core/prompt.py):
probabilities are read from the same text for every model, and the message inside the chat
turn is built by prompt.py's functions too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime

from probllms_tui.core.errors import InputError

# Turn and role markers as they appear literally in templates: <|im_end|>, <|eot_id|>,
# <end_of_turn>, [/INST], </s>... Generation stops at any of them, so a marker the model
# writes as plain text never reaches the student.
_MARKER = re.compile(r"<\|[A-Za-z0-9_]{1,40}\|>|<(?:start|end)_of_turn>|\[/?INST\]|</s>|<eos>")


def _raise(message: str) -> None:
    raise InputError(f"chat template refused the conversation: {message}")


def _tojson(value: object, indent: int | None = None, ensure_ascii: bool = False) -> str:
    # Hugging Face's tojson (not Jinja's HTML-escaping one): templates that print tool
    # schemas expect plain JSON.
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


class ChatTemplate:
    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = ""):
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=["jinja2.ext.loopcontrols"])
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(source)
        except TemplateError as exc:
            raise InputError(f"the model's chat template does not parse ({exc})") from None
        self.source = source
        self.bos_token, self.eos_token = bos_token, eos_token

    def render(self, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True) -> str:
        """The prompt text up to where the assistant's reply begins."""
        from jinja2 import TemplateError

        try:
            return self._template.render(messages=list(messages), bos_token=self.bos_token,
                                         eos_token=self.eos_token,
                                         add_generation_prompt=add_generation_prompt)
        except TemplateError as exc:  # SecurityError included: the sandbox said no
            raise InputError(f"the model's chat template failed ({type(exc).__name__}: {exc})") from None

    def stop_markers(self) -> list[str]:
        """Every turn marker the template uses, plus the end-of-sequence text."""
        found = dict.fromkeys(_MARKER.findall(self.source))
        if self.eos_token:
            found[self.eos_token] = None
        return [m for m in found if m]


def strip_markers(text: str) -> str:
    """Remove template markers from text a student will read (a last line of defence)."""
    return _MARKER.sub("", text)
