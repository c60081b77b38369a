"""Scripted models: real weights that reason, call a tool, and answer after its result, in llama.cpp (locally and
through llama-server); the same program in Hugging Face format is served by vLLM in tests/run/test_vllm.py."""

from __future__ import annotations

import pytest

from workbench.errors import InputError
from workbench.models.scripted import ANSWER, ARGUMENTS, ASK, REASONING, make_scripted_model, script_for

QUESTION = [{"role": "user", "content": ASK}]
RAN: list[int] = []


def get_weather(days: int) -> dict:
    """The weather forecast, some days ahead."""
    RAN.append(days)
    return {"days": days, "sky": "sunny"}


EXPECTED = [
    {"role": "assistant", "content": "", "reasoning_content": REASONING,
     "tool_calls": [{"id": "functions.get_weather:0", "type": "function", "index": 0,
                     "function": {"name": "get_weather", "arguments": '{"days":3}'}}]},
    {"role": "tool", "tool_call_id": "functions.get_weather:0", "name": "get_weather",
     "content": '{"days": 3, "sky": "sunny"}'},
    {"role": "assistant", "content": ANSWER, "reasoning_content": REASONING},
]


@pytest.fixture(scope="module")
def scripted(tiny_vocab, tmp_path_factory):
    from workbench.tokenizer import load

    return make_scripted_model(tmp_path_factory.mktemp("scripted") / "Kimi-K2-Scripted.gguf", vocab=load(tiny_vocab))[0]


@pytest.fixture(scope="module")
def local(scripted):
    from workbench.run.chat import LocalChat
    from workbench.run.loader import load_model
    from workbench.run.offload import preset

    loaded = load_model(scripted, preset("cpu-only"), n_ctx=2048, n_threads=1)
    yield LocalChat(loaded)
    loaded.close()


def test_a_script_that_repeats_a_token_is_refused(tiny_vocab):
    from workbench.chat import bundled_template
    from workbench.tokenizer import load

    with pytest.raises(InputError, match="repeats the token"):
        script_for(load(tiny_vocab), bundled_template("kimi-k2-hybrid"), width=64, reasoning=" look, look")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_reasons_then_calls_and_answers_after_the_result(local, seed):
    RAN.clear()
    run = local.run_tools(QUESTION, {"get_weather": get_weather}, seed=seed, max_tokens=60)
    assert run.finished and run.steps == 2 and RAN == [ARGUMENTS["days"]]
    assert run.messages == EXPECTED  # real weights, sampled at temperature 1: the margins decide, not the seed


def test_instant_mode_skips_the_reasoning(local):
    reply = local.reply(QUESTION, mode="instant", max_tokens=60, seed=1)
    assert reply.reasoning == "" and reply.tool_calls[0]["function"]["arguments"] == '{"days":3}'


def test_through_llama_server(scripted, llama_server_binary):
    from workbench.run.conformance import check_server
    from workbench.run.llama_server import LlamaServer
    from workbench.run.remote import RemoteChat

    RAN.clear()
    with LlamaServer(["-m", str(scripted), "-c", "2048", "--threads", "1", "--jinja"],
                     binary=llama_server_binary) as srv:
        run = RemoteChat(f"{srv.url}/v1").run_tools(QUESTION, {"get_weather": get_weather}, seed=1, max_tokens=60)
        report = check_server(f"{srv.url}/v1", max_tokens=60)
    assert run.finished and run.steps == 2 and RAN == [3] and run.messages == EXPECTED
    c = report.conclusions()
    assert c["tool_calls"] == "structured" and c["tool_call_ids"] == ["canonical"]
    # with no tools in the request, llama-server leaves the model's tool-call section in the content
    assert {"<|tool_call", "<|tool_calls_section"} <= set(c["leaks"])
    assert not any(p.leaks for p in report.probes if p.name.startswith("tool"))
