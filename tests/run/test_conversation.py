"""What a conversation keeps, what fits the context, and what it exports, counted by the real tokenizer."""

from __future__ import annotations

import json

import pytest

from workbench.errors import InputError
from workbench.run.chat import PRESETS, LocalChat
from workbench.run.conversation import ContextFull, Conversation, export, reserve_for
from workbench.run.loader import load_model
from workbench.run.offload import preset


@pytest.fixture(scope="module")
def chat(demo_model):
    loaded = load_model(demo_model, preset("cpu-only"), n_ctx=256, n_threads=1)
    yield LocalChat(loaded)
    loaded.close()


def _turn(i: int, words: int = 8) -> tuple[dict, dict]:
    return ({"role": "user", "content": f"question {i} " + "the " * words},
            {"role": "assistant", "content": "answer " * words, "reasoning_content": "thought"})


def test_turns_drop_oldest_first_and_the_system_message_stays(chat):
    conv = Conversation([{"role": "system", "content": "Be brief."}])
    for i in range(12):
        user, reply = _turn(i)
        fit = conv.fit(chat, user, mode="instant", max_tokens=32)
        assert fit.n_prompt + reserve_for(32, 256) <= 256 and fit.n_prompt == chat.count(fit.messages, mode="instant")
        assert fit.messages[0]["role"] == "system" and fit.messages[-1] is user
        if fit.dropped:  # whole turns leave: the context starts at a user message
            assert conv.messages[fit.start]["role"] == "user" and fit.dropped % 2 == 0
        conv.add(user, reply, start=fit.start)
    assert conv.start > 1 and conv.dropped() == conv.messages[1:conv.start]
    assert conv.context()[0]["role"] == "system" and conv.context()[1] is conv.messages[conv.start]
    # the same conversation with "stop": nothing is dropped, the refusal says what the turn needs
    full = Conversation(list(conv.messages))
    with pytest.raises(ContextFull, match=r"needs [\d,]+ tokens plus 32 for the reply; the context holds 256"):
        full.fit(chat, _turn(99)[0], mode="instant", max_tokens=32, overflow="stop")
    assert full.start == 0


def test_a_message_that_can_never_fit_is_refused(chat):
    conv = Conversation()
    with pytest.raises(ContextFull, match="this message alone needs"):
        conv.fit(chat, {"role": "user", "content": "word " * 400}, mode="thinking", max_tokens=16)
    with pytest.raises(InputError, match="unknown overflow"):
        conv.fit(chat, {"role": "user", "content": "x"}, mode="thinking", max_tokens=16, overflow="later")
    assert conv.messages == []


def test_undo_request_and_export(chat, tmp_path):
    conv = Conversation()
    call = {"id": "functions.get_weather:0", "type": "function", "index": 0,
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}, "error": "x"}
    conv.add({"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "", "reasoning_content": "",
                                                      "tool_calls": [call]}, prompt="<|im_user|>…")
    conv.add({"role": "user", "content": "Thanks"}, {"role": "assistant", "content": "Bye", "reasoning_content": "r"})
    body = conv.request(model="m", mode="instant", sampling=PRESETS["instant"], max_tokens=64)
    assert body["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [
        {"id": "functions.get_weather:0", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}
    assert body["messages"][3]["reasoning_content"] == "r" and body["temperature"] == 0.6
    assert body["chat_template_kwargs"] == {"thinking": False, "enable_thinking": False}
    json_path, prompt_path = export(conv, tmp_path / "out", model="m", mode="instant", sampling=PRESETS["instant"],
                                    max_tokens=64, stem="c")
    assert json.loads(json_path.read_text(encoding="utf-8")) == body and prompt_path.read_text() == "<|im_user|>…"
    assert conv.undo() == "Thanks" and len(conv.messages) == 2
    assert conv.undo() == "Weather?" and conv.undo() is None and conv.messages == []
    with pytest.raises(InputError, match="nothing to export"):
        export(conv, tmp_path, model="m", mode="instant", sampling=PRESETS["instant"], max_tokens=1)
