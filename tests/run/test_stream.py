"""The streaming reply parser on the token sequences Kimi users report trouble with, split every way."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.run.stream import ReplyParser

CALL = ("<|tool_call_begin|>functions.get_weather:{i}<|tool_call_argument_begin|>"
        '{{"city":"{city}"}}<|tool_call_end|>')


def parse(pieces, **kw) -> ReplyParser:
    p = ReplyParser(**kw)
    events = []
    for piece in pieces:
        events += p.feed(piece)
    events += p.finish()
    # what the events carried is exactly what the parser kept
    assert "".join(e.text for e in events if e.kind == "reasoning") == p.reasoning
    assert "".join(e.text for e in events if e.kind == "answer") == p.answer
    assert [e.call for e in events if e.kind == "tool_call"] == p.tool_calls
    return p


def every_split(text: str):
    """The text one character at a time, and cut at every single position."""
    yield list(text)
    for i in range(len(text) + 1):
        yield [text[:i], text[i:]]


CASES = [
    # (what, reply, in_reasoning, reasoning, answer, calls)
    ("thinking reply", "<think>Two and two.</think>4.<|im_end|>", False, "Two and two.", "4.", []),
    ("prompt ended in <think>: only </think> comes", "Two and two.</think>4.", True, "Two and two.", "4.", []),
    ("instant reply", "Paris.<|im_end|>", False, "", "Paris.", []),
    ("empty think block (instant history style)", "<think></think>Hi", False, "", "Hi", []),
    ("whitespace before <think>", "\n<think>r</think>a", False, "r", "a", []),
    ("text after <|im_end|> is ignored", "a<|im_end|><|im_user|>user", False, "", "a", []),
    ("angle brackets that are not tags", "<think>a<b</think>x < y <thinking>", False, "a<b", "x < y <thinking>", []),
    ("reasoning ends at the tool section when </think> is skipped",
     "<think>need weather<|tool_calls_section_begin|>" + CALL.format(i=0, city="Paris") + "<|tool_calls_section_end|>",
     False, "need weather", "", [("get_weather", 0, {"city": "Paris"})]),
    ("two calls after an answer",
     "<think>r</think>Checking.<|tool_calls_section_begin|>" + CALL.format(i=0, city="Paris")
     + CALL.format(i=1, city="Tokyo") + "<|tool_calls_section_end|><|im_end|>",
     False, "r", "Checking.", [("get_weather", 0, {"city": "Paris"}), ("get_weather", 1, {"city": "Tokyo"})]),
    ("the singular section spelling some checkpoints emit",
     "<|tool_call_section_begin|>" + CALL.format(i=0, city="Oslo") + "<|tool_call_section_end|>",
     False, "", "", [("get_weather", 0, {"city": "Oslo"})]),
]


@pytest.mark.parametrize("what,reply,in_reasoning,reasoning,answer,calls", CASES, ids=[c[0] for c in CASES])
def test_cases_under_every_split(what, reply, in_reasoning, reasoning, answer, calls):
    for pieces in every_split(reply):
        p = parse(pieces, in_reasoning=in_reasoning)
        assert (p.reasoning, p.answer) == (reasoning, answer), pieces
        got = [(c["function"]["name"], c["index"], json.loads(c["function"]["arguments"])) for c in p.tool_calls]
        assert got == calls, pieces
        for c in p.tool_calls:
            assert c["type"] == "function" and c["id"].startswith("functions.get_weather:") and "error" not in c
        assert "<|" not in p.reasoning + p.answer  # no marker leaks into the text


def test_no_half_tag_is_ever_shown():
    p = ReplyParser()
    shown = []
    for piece in ["<thi", "nk>a", "</", "thi", "nk", ">b<|im", "_end|>"]:
        shown += [e.text for e in p.feed(piece) if e.kind in ("reasoning", "answer")]
    assert shown == ["a", "b"] and p.done


def test_broken_calls_are_reported_not_leaked():
    p = parse(["<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{bad"
               "<|tool_call_end|><|tool_call_begin|>functions.g:1<|tool_call_argument_begin|>{\"a\""])
    assert [c["function"]["name"] for c in p.tool_calls] == ["f", "g"]
    assert "not JSON" in p.tool_calls[0]["error"] and "cut off" in p.tool_calls[1]["error"]
    assert p.answer == p.reasoning == ""


TOKENS = ["<think>", "</think>", "<|im_end|>", "<|tool_calls_section_begin|>", "<|tool_call_begin|>",
          "<|tool_call_argument_begin|>", "<|tool_call_end|>", "<|tool_calls_section_end|>", "a", " ", "<", "|", "{}",
          "\n", "think", ">"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30), st.data())
def test_any_split_gives_the_same_result(tokens, data):
    text = "".join(tokens)
    whole = parse([text])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    split = parse(pieces)
    assert (split.reasoning, split.answer, split.tool_calls) == (whole.reasoning, whole.answer, whole.tool_calls)


def test_a_reply_becomes_the_next_turns_history():
    from workbench.run.chat import Reply

    plain = Reply(reasoning="2+2=4", answer="It is 4.")
    assert plain.as_message() == {"role": "assistant", "content": "It is 4.", "reasoning_content": "2+2=4"}
    call = {"id": "functions.get_weather:0", "type": "function", "index": 0,
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    assert Reply(answer="", tool_calls=[call]).as_message()["tool_calls"] == [call]
