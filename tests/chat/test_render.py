"""Rendering through each runtime's own code, on the upstream templates and on our own."""

from __future__ import annotations

import pytest

from tests.helpers import REFERENCE
from workbench.chat import RENDERERS, RendererLimitation, TemplateError, render

TEMPLATES = REFERENCE / "templates"
needs_reference = pytest.mark.skipif(not TEMPLATES.is_dir(), reason=f"reference templates not found at {TEMPLATES}")

KIMI = "You are Kimi, an AI assistant created by Moonshot AI."
USER = [{"role": "user", "content": "Hello"}]
TURN = "<|im_user|>user<|im_middle|>Hello<|im_end|><|im_assistant|>assistant<|im_middle|>"


@needs_reference
@pytest.mark.parametrize("renderer", ["hf", "llama-cpp-python"])
@pytest.mark.parametrize(
    "name,expected",
    [
        # the fixed Instruct template: Kimi's default system prompt, then a stray newline
        ("Kimi-K2-Instruct.jinja", f"<|im_system|>system<|im_middle|>{KIMI}<|im_end|>\n{TURN}"),
        ("moonshotai-Kimi-K2.jinja", f"<|im_system|>system<|im_middle|>You are a helpful assistant<|im_end|>{TURN}"),
        ("Kimi-K2-Thinking.jinja", f"<|im_system|>system<|im_middle|>{KIMI}<|im_end|>{TURN}"),
    ],
)
def test_reference_templates_with_jinja_renderers(renderer, name, expected):
    assert render(TEMPLATES / name, USER, renderer=renderer) == expected


@needs_reference
@pytest.mark.parametrize("name", ["Kimi-K2-Instruct.jinja", "moonshotai-Kimi-K2.jinja", "Kimi-K2-Thinking.jinja"])
def test_llama_cpp_builtin_recognises_kimi_but_adds_no_system_prompt(name):
    """llama.cpp picks its built-in kimi-k2 formatter from the template text; it inserts no default system turn."""
    assert render(TEMPLATES / name, USER, renderer="llama.cpp") == TURN
    assert render("kimi-k2", USER, renderer="llama.cpp") == TURN


def test_renderers_registry():
    from workbench.chat.render import available_renderers

    assert list(RENDERERS) == ["hf", "llama.cpp", "llama-cpp-python", "moonshot", "llama-server"]
    assert "moonshot" not in available_renderers()  # only where a template reads tools_ts_str


@pytest.mark.parametrize("renderer", ["hf", "llama-cpp-python"])
def test_template_kwargs_and_tools_reach_the_template(renderer):
    t = "{% if thinking is defined and thinking is false %}I{% else %}T{% endif %}{{ tools | length if tools else 0 }}"
    assert render(t, USER, renderer=renderer) == "T0"
    assert render(t, USER, renderer=renderer, thinking=False, tools=[{"type": "function"}]) == "I1"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"tools": [{"type": "function"}]}, "take no tools"),
        ({"thinking": False}, "take no template kwargs"),
    ],
)
def test_llama_cpp_builtin_refuses_what_it_cannot_express(kwargs, message):
    with pytest.raises(RendererLimitation, match=message):
        render("kimi-k2", USER, renderer="llama.cpp", **kwargs)
    with pytest.raises(RendererLimitation, match="keep only role and content; message has reasoning_content"):
        render("kimi-k2", [{"role": "assistant", "content": "x", "reasoning_content": "r"}], renderer="llama.cpp")


def test_llama_cpp_unknown_template():
    with pytest.raises(TemplateError, match="recognises no built-in chat format"):
        render("{{ nothing }} at all", USER, renderer="llama.cpp")


@pytest.mark.parametrize("renderer", ["hf", "llama-cpp-python"])
@pytest.mark.parametrize(
    "template,message",
    [
        ("{% if %}", r"template syntax error at line 1"),
        ("{{ raise_exception('no system role') }}", r"template raised .*no system role"),
        ("{{ messages.__class__.__mro__ }}", r"template (blocked by the sandbox|raised)"),
    ],
)
def test_bad_templates_are_one_line_errors(renderer, template, message):
    with pytest.raises(TemplateError, match=message):
        render(template, USER, renderer=renderer)
