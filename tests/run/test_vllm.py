"""Real vLLM (CPU build, from ``make test``'s ``.venv-vllm``) serving the tiny Kimi K2-architecture model in
Hugging Face format, with Kimi's reasoning and tool parsers, behind an API key as deployments run it."""

from __future__ import annotations

import pytest

from workbench.chat.suite import SUITE
from workbench.errors import InputError
from workbench.run.conformance import check_server
from workbench.run.remote import RemoteChat

KEY = "wb-vllm-key-51c0"
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def hf_model(tiny_vocab, tmp_path_factory):
    from workbench.models import make_hf_model
    from workbench.tokenizer import load

    return make_hf_model(tmp_path_factory.mktemp("hf") / "kimi-tiny-hf", vocab=load(tiny_vocab))


@pytest.fixture(scope="module")
def vllm(hf_model):
    from workbench.run import vllm_server

    if vllm_server.find() is None:
        pytest.fail("no vLLM environment: `make test` builds .venv-vllm (make vllm)")
    with vllm_server.VllmServer(hf_model, ["--api-key", KEY]) as server:
        yield f"{server.url}/v1"


@pytest.fixture(scope="module")
def assets(tiny_vocab):
    from workbench.tokenizer import load

    return load(tiny_vocab)


def tokens(assets, prompt: str) -> int:
    return len(assets.encode(prompt))


def test_server_check_on_vllm(vllm):
    report = check_server(vllm, api_key=KEY)
    c = report.conclusions()
    assert len(report.probes) == 12 and all(p.ok for p in report.probes)
    assert c["reasoning_field"] == "reasoning"  # vLLM 0.32: delta.reasoning; reasoning_content is gone
    assert c["thinking_switch"] == {"thinking": True, "enable_thinking": False}  # the template reads thinking
    # enable_thinking does not reach this template, yet vLLM's kimi_k2 parser reads it: off, reasoning is the answer
    assert c["parser_follows"]["enable_thinking"] is True
    assert c["stream_agrees"] is True and c["tool_round_trip"] and c["leaks"] == []
    assert "reasoning parser follows it" in report.format()


def test_remote_chat_reads_vllm_reasoning_field(vllm):
    chat = RemoteChat(vllm, api_key=KEY)
    thinking = chat.reply(HI, mode="thinking", max_tokens=12, seed=1)
    assert thinking.reasoning and thinking.n_generated_tokens == 12 and thinking.finish_reason == "length"
    instant = chat.reply(HI, mode="instant", max_tokens=12, seed=1)
    assert not instant.reasoning and instant.answer
    assert instant.n_prompt_tokens == thinking.n_prompt_tokens + 1  # <think></think> vs <think>


def test_vllm_renders_what_moonshot_renders(vllm, hf_model, assets):
    """tools_ts_str and preserve_thinking reach vLLM's template through chat_template_kwargs: its prompts have
    the tokens of the moonshot renderer's."""
    from workbench.chat import render, template_kwargs
    from workbench.chat.bundled import bundled_template

    template = bundled_template("kimi-k2-hybrid")
    chat = RemoteChat(vllm, api_key=KEY)
    case = next(c for c in SUITE if c.name == "tool-declaration")
    reply = chat.reply(case.messages, tools=case.tools, max_tokens=1, seed=1)
    assert reply.n_prompt_tokens == tokens(assets, render(template, case.messages, tools=case.tools,
                                                          renderer="moonshot"))
    assert reply.n_prompt_tokens != tokens(assets, render(template, case.messages, tools=case.tools))
    history = next(c for c in SUITE if c.name == "thinking-history").messages
    for keep in (False, True):
        tools, kwargs = template_kwargs(template, thinking=True, preserve_thinking=keep)
        want = tokens(assets, render(template, history, **kwargs))
        assert chat.reply(history, max_tokens=1, seed=1, preserve_thinking=keep).n_prompt_tokens == want


def test_a_key_is_needed_and_never_shown(vllm):
    for key in ("wrong-key-9f", None):
        with pytest.raises(InputError) as e:
            RemoteChat(vllm, api_key=key).reply(HI, max_tokens=1)
        assert str(e.value).startswith(f"{vllm} refused the API key (401)") and "wrong-key-9f" not in str(e.value)
        assert KEY not in str(e.value)


@pytest.fixture(scope="module")
def scripted_vllm(tiny_vocab, tmp_path_factory):
    """vLLM serving the scripted model (real weights that reason, call get_weather, then answer)."""
    from workbench.models.scripted import make_scripted_hf_model
    from workbench.run import vllm_server
    from workbench.tokenizer import load

    folder = make_scripted_hf_model(tmp_path_factory.mktemp("scripted-hf") / "kimi-scripted-hf", vocab=load(tiny_vocab))
    with vllm_server.VllmServer(folder) as server:
        yield f"{server.url}/v1"


def test_the_tool_loop_through_vllm(scripted_vllm):
    """vLLM's kimi_k2 tool and reasoning parsers on a model that really calls: the loop ends in the answer."""
    from tests.models.test_scripted import EXPECTED, QUESTION, RAN, get_weather

    RAN.clear()
    run = RemoteChat(scripted_vllm).run_tools(QUESTION, {"get_weather": get_weather}, seed=1, max_tokens=60)
    assert run.finished and run.steps == 2 and RAN == [3] and run.messages == EXPECTED


def test_enable_thinking_off_on_vllm_leaks_the_reasoning(scripted_vllm):
    """The trap the guide names, measured: a K2.6-style template ignores enable_thinking=false, the model still
    thinks, and vLLM's parser (which reads the switch) hands the reasoning and </think> over as the answer."""
    report = check_server(scripted_vllm, max_tokens=60)
    off = [p for p in report.probes if p.name == "enable_thinking-off"]
    assert off and all(p.reasoning == "" and "</think>" in p.content and p.reasoning_field == "inline" for p in off)
    assert report.conclusions()["parser_follows"]["enable_thinking"] is True
    tool = [p for p in report.probes if p.name == "tool-declared"]
    assert all(p.finish_reason == "tool_calls" and p.tool_calls[0]["id"] == "functions.get_weather:0" for p in tool)
