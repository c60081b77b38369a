"""Canonical tool-call ids: every shape servers have sent becomes ``functions.NAME:IDX``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.chat.tool_ids import canonical_id, is_canonical
from workbench.run.stream import ReplyParser

SHAPES = [
    ("functions.get_weather:0", 0, "functions.get_weather:0"),  # canonical: kept
    ("functions.get_weather:7", 1, "functions.get_weather:7"),  # its own index kept
    ("get_weather:2", 0, "functions.get_weather:2"),  # the prefix lost
    ("call_8f2aXk3", 1, "functions.get_weather:1"),  # OpenAI style
    ("functionsexec5", 0, "functions.get_weather:0"),  # separators lost (and the name)
    ("5", 3, "functions.get_weather:3"),  # a bare number
    ("", 0, "functions.get_weather:0"),  # none
    (None, 2, "functions.get_weather:2"),
    ("functions.other_tool:0", 1, "functions.get_weather:1"),  # another function's id
    ("  functions.get_weather:4 ", 0, "functions.get_weather:4"),
]


@pytest.mark.parametrize("raw,index,expected", SHAPES)
def test_each_reported_shape(raw, index, expected):
    assert canonical_id(raw, "get_weather", index) == expected


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)


@given(raw=st.one_of(st.none(), st.text(max_size=40)), name=names, index=st.integers(0, 10_000))
def test_any_id_becomes_canonical_for_its_function_and_stays_so(raw, name, index):
    out = canonical_id(raw, name, index)
    assert re.fullmatch(rf"functions\.{re.escape(name)}:\d+", out) and is_canonical(out)
    assert canonical_id(out, name, index + 1) == out  # idempotent: a canonical id is never renumbered


def test_the_parser_makes_ids_canonical():
    p = ReplyParser()
    p.feed("<|tool_calls_section_begin|><|tool_call_begin|>call_77<|tool_call_argument_begin|>{}<|tool_call_end|>"
           "<|tool_call_begin|>functions.get_weather:1<|tool_call_argument_begin|>{\"city\":\"Oslo\"}<|tool_call_end|>"
           "<|tool_calls_section_end|>")
    p.finish()
    assert [c["id"] for c in p.tool_calls] == ["functions.call_77:0", "functions.get_weather:1"]
