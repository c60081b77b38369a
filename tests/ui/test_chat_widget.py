"""The template playground, driven as a user would: edit messages, flip toggles, read the panels."""

from __future__ import annotations

import json

import pytest

from tests.helpers import ROOT
from workbench.chat.parity import parity
from workbench.tokenizer import load
from workbench.ui.chat import TemplatePlayground, parity_styler, prompt_html

GOOD = (ROOT / "workbench" / "chat" / "templates" / "kimi-k2.jinja").read_text(encoding="utf-8")
SWITCHED = "{% for m in messages %}{{ m.content }}{% endfor %}{% if add_generation_prompt %}" \
           "{{ '<think>' if thinking else '<think></think>' }}{% endif %}"


@pytest.fixture(scope="module")
def assets(tiny_vocab):
    return load(tiny_vocab)


def test_panels_show_each_renderer_with_ids(assets):
    app = TemplatePlayground({"good": GOOD}, tokenizer=assets)
    hf, builtin = app.results["hf"], app.results["llama.cpp"]
    assert hf.text.startswith("<|im_system|>system<|im_middle|>You are Kimi") and hf.ids == assets.encode(hf.text)
    assert builtin.status == "differs" and not builtin.text.startswith("<|im_system|>")
    assert app.results["llama-cpp-python"].status == "equal"
    assert "&lt;|im_end|&gt;</b>" in app.views["hf"].value and f"id {assets.n_ranks + 2}" in app.views["hf"].value


def test_editing_messages_and_toggles(assets):
    app = TemplatePlayground({"good": GOOD}, tokenizer=assets)
    app.messages.value = json.dumps([{"role": "user", "content": "Bonjour"}])
    app.flush()  # what the pause after typing does
    assert "Bonjour" in app.results["hf"].text
    app.tools.value = True
    assert "tool_declare" in app.results["hf"].text and app.results["llama.cpp"].status == "unsupported"
    app.generation.value = False
    assert not app.results["hf"].text.endswith("<|im_middle|>")
    app.messages.value = "[{"
    app.flush()
    assert "invalid JSON at line 1" in app.status.value and "Bonjour" in app.results["hf"].text  # last good state kept
    assert all("not rendered" in v.value and "Bonjour" not in v.value for v in app.views.values())  # nothing stale shown


def test_mode_uses_the_templates_switch():
    app = TemplatePlayground({"switched": SWITCHED, "good": GOOD}, renderers=["hf", "llama-cpp-python"])
    assert app.results["hf"].text.endswith("<think>") and "thinking=True" in app.status.value
    app.mode.value = "instant"
    assert app.results["hf"].text.endswith("<think></think>")
    app.template.value = "good"
    assert "no thinking switch" in app.status.value


def test_a_raising_template_is_shown_not_raised():
    app = TemplatePlayground("{{ raise_exception('nope') }}", renderers=["hf"])
    assert app.results["hf"].status == "fails" and "nope" in app.views["hf"].value


def test_helpers():
    assert prompt_html("<|im_end|>a\n").count("<b") == 1 and "↵" in prompt_html("a\n")
    html = parity_styler(parity(GOOD, renderers=["llama-cpp-python"])).to_html()
    assert "#d4f5d4" in html and "single-turn" in html


def test_typing_re_renders_once_it_pauses(assets):
    app = TemplatePlayground({"good": GOOD}, renderers=["hf"], debounce=60)
    calls = []
    real = app.refresh
    app.refresh = lambda *a: (calls.append(1), real(*a))
    for text in ("Bon", "Bonj", "Bonjour"):  # three keystrokes within the pause
        app.messages.value = json.dumps([{"role": "user", "content": text}])
    assert calls == [] and "Bonjour" not in app.results["hf"].text  # nothing yet: the timer runs
    app.flush()
    assert calls == [1] and "Bonjour" in app.results["hf"].text


def test_a_token_cut_inside_a_character_shows_its_bytes(assets):
    from workbench.ui.chat import token_text

    partial = next(i for t, i in assets.ranks.items() if len(t) == 1 and t[0] >= 0x80)  # a lone UTF-8 byte
    assert token_text(assets, partial) == f"⟨{assets.tiktoken.decode_single_token_bytes(partial)[0]:02x}⟩"
    assert token_text(assets, assets.encode("京")[0]) in ("京", *(f"⟨{b:02x}⟩" for b in "京".encode()))
