"""Local chat on the tiny model: the template's switch, streamed reasoning/answer/tool calls, stop, cancel.

The tiny model's weights are random, so scripted replies are forced with a logits processor
that allows exactly one token per step: the tokens then flow through llama.cpp's real
sampling, detokenization and end-of-generation handling.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from workbench.chat.bundled import bundled_template
from workbench.errors import InputError
from workbench.run.chat import PRESETS, LocalChat, Sampling
from workbench.run.loader import load_model
from workbench.run.offload import preset

SWITCHED = bundled_template().replace(
    "{%- if add_generation_prompt -%}<|im_assistant|>assistant<|im_middle|>{%- endif -%}",
    "{%- if add_generation_prompt -%}<|im_assistant|>assistant<|im_middle|>"
    "{{ '<think>' if thinking is not defined or thinking else '<think></think>' }}{%- endif -%}")
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def chat(tiny_model):
    loaded = load_model(tiny_model, preset("cpu-only"), n_ctx=512, n_threads=1)
    yield LocalChat(loaded, template=SWITCHED)
    loaded.close()


def script(chat, text: str):
    """A processor that makes the model say exactly ``text`` then ``<|im_end|>``."""
    llm = chat.llm
    wanted = llm.tokenize(text.encode(), add_bos=False, special=True) + llm.tokenize(b"<|im_end|>", add_bos=False,
                                                                                       special=True)
    start = {}

    def force(input_ids, scores):
        step = len(input_ids) - start.setdefault("n", len(input_ids))
        out = np.full_like(scores, -np.inf)
        out[wanted[min(step, len(wanted) - 1)]] = 0.0
        return out

    return force, len(wanted) - 1


def test_thinking_prompt_ends_in_think_and_only_the_close_comes(chat):
    assert chat.render(HI, mode="thinking").endswith("<think>")
    assert chat.render(HI, mode="instant").endswith("<think></think>")
    force, n = script(chat, "Two and two 𝔸.</think>Four.")
    reply = chat.reply(HI, mode="thinking", logits_processors=[force], max_tokens=64)
    assert (reply.reasoning, reply.answer) == ("Two and two 𝔸.", "Four.")  # a 4-byte char across byte tokens
    assert reply.finish_reason == "stop" and reply.n_generated_tokens == n
    assert reply.n_prompt_tokens > 10 and reply.generation_tokens_per_s > 0 and reply.prompt_tokens_per_s > 0


def test_events_stream_and_tool_calls_never_leak(chat):
    text = ("Let me check.</think>One moment.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
            '<|tool_call_argument_begin|>{"city":"Paris"}<|tool_call_end|><|tool_calls_section_end|>')
    force, _ = script(chat, text)
    events = list(chat.stream(HI, mode="thinking", logits_processors=[force], max_tokens=128))
    kinds = [e.kind for e in events]
    assert kinds.index("reasoning") < kinds.index("answer") < kinds.index("tool_call")
    reply = chat.last
    assert reply.answer == "One moment." and reply.reasoning == "Let me check."
    assert reply.tool_calls[0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}


def test_stop_length_and_cancel(chat):
    im_end = chat.llm.tokenize(b"<|im_end|>", add_bos=False, special=True)[0]
    assert chat.reply(HI, mode="instant", logit_bias={im_end: 100.0}).finish_reason == "stop"
    reply = chat.reply(HI, mode="instant", max_tokens=3, seed=1, logit_bias={im_end: -100.0})
    assert reply.finish_reason == "length" and reply.n_generated_tokens == 3
    cancel = threading.Event()
    cancel.set()
    reply = chat.reply(HI, mode="instant", stop=cancel, logit_bias={im_end: -100.0})
    assert reply.finish_reason == "cancelled" and reply.n_generated_tokens == 1


def test_same_seed_same_reply(chat):
    a = chat.reply(HI, mode="thinking", max_tokens=8, seed=7)
    b = chat.reply(HI, mode="thinking", max_tokens=8, seed=7)
    assert (a.reasoning, a.answer) == (b.reasoning, b.answer)


def test_presets_and_errors(chat):
    assert PRESETS["thinking"] == Sampling(1.0, 0.95, 0.01) and PRESETS["instant"] == Sampling(0.6, 0.95, 0.01)
    assert PRESETS["instant"].cli_args() == ["--temp", "0.6", "--top-p", "0.95", "--min-p", "0.01", "--top-k", "0"]
    with pytest.raises(InputError, match="unknown mode 'fast'; valid: thinking, instant"):
        chat.reply(HI, mode="fast")
    with pytest.raises(InputError, match="the context holds 512"):
        chat.reply([{"role": "user", "content": "word " * 2000}])
