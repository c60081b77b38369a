"""The demo model thinks in K2.6's way and its scripted replies are real words in Kimi's reply structure."""

from __future__ import annotations

import random
import re

import pytest

from workbench.models.demo import STARTERS_KEY, WORDS_KEY
from workbench.run.chat import LocalChat
from workbench.run.demo import END, END_THINK, PERIOD, DemoScript
from workbench.run.loader import load_model
from workbench.run.offload import preset

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def demo(demo_model):
    loaded = load_model(demo_model, preset("cpu-only"), n_ctx=2048, n_threads=1)
    yield LocalChat(loaded)
    loaded.close()


def _allowed(chat) -> set[str]:
    meta = chat.llm.metadata
    return set(meta[WORDS_KEY].split()) | set(meta[STARTERS_KEY].split())


def test_the_generation_prompt_follows_the_switch(demo):
    assert demo.render(HI, mode="thinking").endswith("<|im_assistant|>assistant<|im_middle|><think>")
    assert demo.render(HI, mode="instant").endswith("<|im_assistant|>assistant<|im_middle|><think></think>")
    assert demo.mode_note("thinking") is None and demo.demo is not None and "random weights" in demo.demo.about


@pytest.mark.parametrize("seed", range(4))
def test_thinking_replies_are_words_then_an_answer(demo, seed):
    reply = demo.reply(HI, mode="thinking", max_tokens=200, seed=seed)
    assert reply.finish_reason == "stop" and reply.reasoning.strip() and reply.answer.strip()
    for text in (reply.reasoning, reply.answer):
        assert "<" not in text and "|" not in text  # no reserved, control or tool-call token
        sentences = [s.split() for s in text.strip().split(".") if s.strip()]
        assert all(5 <= len(s) <= 9 and s[0][0].isupper() for s in sentences), text
        assert set(re.findall(r"\w+", text)) <= _allowed(demo), text
    assert 2 <= reply.reasoning.count(".") <= 3 and 1 <= reply.answer.count(".") <= 2
    assert not reply.tool_calls


def test_instant_replies_have_no_reasoning_and_a_length_can_be_asked(demo):
    reply = demo.reply([{"role": "user", "content": "Tell me everything in 120 words"}], mode="instant",
                       max_tokens=400, seed=1)
    assert reply.reasoning == "" and reply.finish_reason == "stop"
    assert len(re.findall(r"\w+", reply.answer)) == 120
    raw = demo.reply(HI, mode="instant", max_tokens=48, seed=1, script=False)  # the model left alone
    assert raw.n_generated_tokens >= 1 and not set(re.findall(r"\w+", raw.answer)) <= _allowed(demo)


def test_plain_models_get_no_script_and_a_note_on_switchless_templates(tiny_model):
    loaded = load_model(tiny_model, preset("cpu-only"), n_ctx=256, n_threads=1)
    try:
        chat = LocalChat(loaded)
        assert chat.demo is None
        note = chat.mode_note("thinking")
        assert "no thinking switch" in note and "only the sampling" in note and "temperature 1" in note
        assert "temperature 0.6" in chat.mode_note("instant")
    finally:
        loaded.close()


def test_plans_by_hand():
    script = DemoScript("about", words=(1, 2), starters=(3,), period=4, end_think=5, end=6)
    slots = script.plan(thinking=True, rng=random.Random(0))
    think = slots.index(END_THINK)
    assert slots[-1] == END and slots[think - 1] == PERIOD and 2 <= slots[:think].count(PERIOD) <= 3
    slots = script.plan(thinking=False, rng=random.Random(0), answer_words=12)
    assert END_THINK not in slots and slots[-2:] == [PERIOD, END]
    assert sum(slot not in (PERIOD, END) for slot in slots) == 12
    assert DemoScript.asked_words([{"role": "user", "content": "Say it in 1,500 words"}]) == 1500
    assert DemoScript.asked_words([{"role": "user", "content": "in 3 words"}, {"role": "assistant", "content": ""},
                                   {"role": "user", "content": "no length"}]) is None


def test_local_chat_feeds_the_template_as_moonshot_does(demo):
    """The demo's K2.6-style template reads tools_ts_str and preserve_thinking: LocalChat passes both."""
    from workbench.chat import render
    from workbench.chat.suite import SUITE

    case = next(c for c in SUITE if c.name == "tool-declaration")
    prompt = demo.render(case.messages, mode="thinking", tools=case.tools)
    assert prompt == render(demo.template, case.messages, tools=case.tools, renderer="moonshot")
    assert "namespace functions {\n// Current weather for a city\ntype get_weather" in prompt
    history = next(c for c in SUITE if c.name == "thinking-history").messages
    assert "<think></think>4." in demo.render(history)
    assert "<think>Add two and two.</think>4." in demo.render(history, preserve_thinking=True)
    assert demo.count(history, preserve_thinking=True) > demo.count(history)


@pytest.mark.parametrize("budget", [0, 3, 7])
def test_a_reasoning_budget_ends_the_reasoning_and_the_answer_follows(demo, budget):
    free = demo.reply(HI, mode="thinking", max_tokens=300, seed=2)
    assert free.n_reasoning_tokens > 7  # unbudgeted, the script thinks for longer than any budget here
    reply = demo.reply(HI, mode="thinking", max_tokens=300, seed=2, reasoning_budget=budget)
    assert reply.n_reasoning_tokens == budget and reply.finish_reason == "stop"
    assert reply.answer.strip() and "</think>" not in reply.answer and "<" not in reply.reasoning
    assert reply.reasoning == "" if budget == 0 else free.reasoning.startswith(reply.reasoning.rstrip())


def test_a_reasoning_budget_is_checked(demo):
    from workbench.errors import InputError

    with pytest.raises(InputError, match="reasoning_budget must be >= 0"):
        demo.reply(HI, reasoning_budget=-1)
    instant = demo.reply(HI, mode="instant", max_tokens=100, seed=1, reasoning_budget=0)
    assert instant.n_reasoning_tokens == 0 and instant.answer.strip()  # nothing to cut in instant mode
