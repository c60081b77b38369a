"""The ``moonshot`` renderer (HF plus what Moonshot's K2.5/K2.6 tokenizer adds), and how the checks, the
runtimes and the real llama-server meet it."""

from __future__ import annotations

import json

import pytest

from workbench.chat import bundled_template, render, template_kwargs
from workbench.chat.parity import parity
from workbench.chat.suite import SUITE
from workbench.chat.tools_ts import encode_tools, moonshot_inputs, sort_keys

HYBRID = bundled_template("kimi-k2-hybrid")  # reads thinking, preserve_thinking and tools_ts_str
K2 = bundled_template("kimi-k2")  # reads none of them
TOOL_CASES = [c for c in SUITE if c.tools]
DECLARE = "<|im_system|>tool_declare<|im_middle|>"


def declared(prompt: str) -> str:
    return prompt.split(DECLARE, 1)[1].split("<|im_end|>", 1)[0]


def test_moonshot_declares_tools_in_typescript_where_the_template_reads_it():
    case = TOOL_CASES[0]
    prompt = render(HYBRID, case.messages, tools=case.tools, renderer="moonshot")
    assert declared(prompt) == encode_tools(sort_keys(case.tools))
    assert declared(prompt).startswith("# Tools\n\n## functions\nnamespace functions {\n")
    hf = render(HYBRID, case.messages, tools=case.tools)
    assert json.loads(declared(hf)) == case.tools  # HF semantics: JSON, the caller's key order


def test_moonshot_sorts_tool_keys_and_thinks_by_default():
    case = TOOL_CASES[0]
    k2 = render(K2, case.messages, tools=case.tools, renderer="moonshot")  # a template that prints JSON
    assert declared(k2) == json.dumps(sort_keys(case.tools), separators=(",", ":"), ensure_ascii=False)
    assert declared(k2) != declared(render(K2, case.messages, tools=case.tools))
    single = SUITE[0].messages
    assert render(HYBRID, single, renderer="moonshot").endswith("<think>")  # thinking=True is its default
    assert render(HYBRID, single, renderer="moonshot", thinking=False).endswith("<think></think>")


def test_a_schema_it_cannot_encode_falls_back_to_json():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
                                                                              "properties": {"d": {"type": "date"}}}}}]
    tools_out, kwargs = moonshot_inputs(tools, {})
    assert "tools_ts_str" not in kwargs and tools_out == sort_keys(tools)
    prompt = render(HYBRID, SUITE[0].messages, tools=tools, renderer="moonshot")
    assert json.loads(declared(prompt)) == sort_keys(tools)


def test_template_kwargs_feed_each_template_what_it_reads():
    tools = TOOL_CASES[0].tools
    out_tools, kwargs = template_kwargs(HYBRID, thinking=False, tools=tools, preserve_thinking=True)
    assert kwargs == {"thinking": False, "preserve_thinking": True, "tools_ts_str": encode_tools(sort_keys(tools))}
    assert out_tools == sort_keys(tools)
    out_tools, kwargs = template_kwargs(K2, thinking=False, tools=tools, preserve_thinking=True)
    assert kwargs == {} and out_tools is tools  # K2 reads no switch, no preserve_thinking, no tools_ts_str


def test_parity_adds_moonshot_for_a_tools_ts_template_and_says_what_to_do():
    table = parity(HYBRID, renderers=None)
    assert "moonshot" in table.renderers
    assert {c.case for c in table.cells if c.renderer == "moonshot" and c.status == "differs"} == {
        c.name for c in TOOL_CASES}
    (note,) = table.notes
    assert "reads tools_ts_str" in note and "Fix: pass tools_ts_str" in note and "chat_template_kwargs" in note
    assert "note: this template reads tools_ts_str" in table.format() and table.to_dict()["notes"] == [note]
    assert "moonshot" not in parity(K2, renderers=["hf", "llama-cpp-python"]).renderers
    assert parity(K2).notes == [] and "moonshot" not in parity(K2).renderers


def test_verify_reports_the_tool_declarations(tmp_path):
    from workbench.verify import check

    t = tmp_path / "hybrid.jinja"
    t.write_text(HYBRID, encoding="utf-8")
    (finding,) = check(t).by_check("tool-declarations")
    assert finding.severity == "warning" and "TypeScript-style" in finding.message and "Fix:" in finding.message
    k2 = tmp_path / "k2.jinja"
    k2.write_text(K2, encoding="utf-8")
    assert check(k2).by_check("tool-declarations") == []


def test_cli_render_moonshot(tmp_path, capsys):
    from workbench.cli import main

    messages, tools, t = tmp_path / "m.json", tmp_path / "t.json", tmp_path / "h.jinja"
    messages.write_text(json.dumps(TOOL_CASES[0].messages), encoding="utf-8")
    tools.write_text(json.dumps(TOOL_CASES[0].tools), encoding="utf-8")
    t.write_text(HYBRID, encoding="utf-8")
    assert main(["render", "--template", str(t), "--messages", str(messages), "--tools", str(tools),
                 "--renderer", "moonshot"]) == 0
    assert "namespace functions {" in capsys.readouterr().out


@pytest.mark.parametrize("case", TOOL_CASES, ids=[c.name for c in TOOL_CASES])
def test_llama_server_with_moonshot_kwargs_is_byte_identical(case, llama_server_binary):
    """The real llama-server's /apply-template, given the kwargs RemoteChat sends, renders what Moonshot's
    tokenizer renders."""
    tools, kwargs = moonshot_inputs(case.tools, {})
    served = render(HYBRID, case.messages, tools=tools, renderer="llama-server", **kwargs)
    assert served == render(HYBRID, case.messages, tools=case.tools, renderer="moonshot")
    assert "namespace functions {" in served
