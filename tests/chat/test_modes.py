"""Thinking/instant switches found from the template's AST; replies split into reasoning and answer."""

from __future__ import annotations

import pytest

from tests.helpers import REFERENCE
from workbench.chat import TemplateError, mode_kwargs, render, split_reasoning, template_variables, thinking_switches

K26_LIKE = ("{% for m in messages %}<|im_user|>user<|im_middle|>{{ m.content }}<|im_end|>{% endfor %}"
            "{% if add_generation_prompt %}<|im_assistant|>assistant<|im_middle|>"
            "{% if thinking is defined and thinking is false %}<think></think>{% else %}<think>{% endif %}{% endif %}")
QWEN_LIKE = "{% if enable_thinking is defined and enable_thinking is false %}<think></think>{% endif %}"


def test_variables_of_a_template():
    assert {"messages", "add_generation_prompt", "thinking"} <= template_variables(K26_LIKE)
    assert thinking_switches(K26_LIKE) == ["thinking"] and thinking_switches(QWEN_LIKE) == ["enable_thinking"]
    assert thinking_switches("{{ messages }}") == []


def test_enable_thinking_is_silently_ignored_by_a_thinking_template_and_mode_kwargs_avoids_it():
    msgs = [{"role": "user", "content": "hi"}]
    # the trap: the commonly passed switch changes nothing
    assert render(K26_LIKE, msgs, enable_thinking=False) == render(K26_LIKE, msgs)
    assert render(K26_LIKE, msgs).endswith("<think>")
    # the switch the template reads
    assert render(K26_LIKE, msgs, **mode_kwargs(K26_LIKE, thinking=False)).endswith("<think></think>")
    assert render(K26_LIKE, msgs, **mode_kwargs(K26_LIKE, thinking=True)).endswith("<think>")


@pytest.mark.skipif(not (REFERENCE / "templates").is_dir(), reason="reference templates not found")
def test_reference_thinking_template_has_no_switch():
    text = (REFERENCE / "templates" / "Kimi-K2-Thinking.jinja").read_text(encoding="utf-8")
    assert thinking_switches(text) == [] and "messages" in template_variables(text)


@pytest.mark.parametrize(
    "reply,expected",
    [
        ("<think>a</think>b", ("a", "b")),
        ("<think>\nplan\n</think>\n\nanswer", ("plan", "answer")),
        ("plan</think>answer", ("plan", "answer")),  # prompt ended in <think>
        ("<think>still going", ("still going", "")),
        ("just an answer", ("", "just an answer")),
        ("<think></think>instant", ("", "instant")),
    ],
)
def test_split_reasoning(reply, expected):
    assert split_reasoning(reply) == expected


def test_syntax_error_is_one_line():
    with pytest.raises(TemplateError, match="syntax error at line 1"):
        template_variables("{% for %}")
