"""Chat templates: rendered in a sandbox, wrapped around prompt.py's question, no markers shown."""

from __future__ import annotations

import pytest

from probllms_tui.core.chat import ChatTemplate, strip_markers
from probllms_tui.core.errors import InputError
from probllms_tui.core.paste import parse_pasted
from probllms_tui.core.prompt import explanation_messages, render_answered, render_letter_prompt

# Qwen2.5's template, trimmed to the parts a plain conversation uses.
CHATML = ("{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are helpful.<|im_end|>\\n' }}"
          "{%- endif %}{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + "
          "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")
GEMMA = ("{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' "
         "else m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
         "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
Q = parse_pasted("Which gas do plants take in for photosynthesis? A) oxygen B) carbon dioxide C) helium")


def test_the_message_is_the_one_prompt_format_inside_a_chat_turn():
    [message] = explanation_messages(Q, "B")
    assert message["role"] == "user"
    assert message["content"].startswith(render_letter_prompt(Q))
    assert message["content"].startswith(render_answered(Q, "B"))
    text = ChatTemplate(CHATML, eos_token="<|endoftext|>").render([message])
    assert text.endswith("<|im_start|>assistant\n")
    assert render_letter_prompt(Q) in text
    assert ChatTemplate(CHATML, eos_token="<|endoftext|>").stop_markers() == [
        "<|im_start|>", "<|im_end|>", "<|endoftext|>"]


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ messages.append({'role': 'x'}) }}",
    "{{ raise_exception('no system role') }}",
], ids=["class-walk", "mutation", "raise_exception"])
def test_a_hostile_or_failing_template_is_one_error_not_code(template):
    with pytest.raises(InputError) as info:
        ChatTemplate(template).render([{"role": "user", "content": "hi"}])
    assert "\n" not in str(info.value)


def test_strip_markers():
    assert strip_markers("Because<|im_end|> it <end_of_turn>is [/INST]green.") == "Because it is green."


@pytest.mark.slow
def test_explanation_through_a_chat_template_shows_no_markers(default_engine):
    # The default model ships no template; give it Gemma's, whose turn markers are real
    # special tokens in its vocabulary, to run the whole chat path through llama.cpp.
    engine = default_engine
    saved = engine._chat_source, engine._chat
    engine._chat_source, engine._chat = GEMMA, None
    try:
        rendered = engine.chat_template().render(explanation_messages(Q, "B"))
        tokens = engine._chat_tokens(rendered)
        assert tokens[0] == engine._llm.token_bos() and tokens[1] != tokens[0]  # one BOS
        assert len(tokens) < engine.count_tokens(rendered)  # markers became single tokens
        text = "".join(engine.stream_explanation(Q, "B", max_tokens=40, temperature=0.0))
    finally:
        engine._chat_source, engine._chat = saved
    assert text.strip()
    for marker in ("<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<|"):
        assert marker not in text
