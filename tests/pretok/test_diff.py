"""diff: divergences aligned by offset, each with a cause."""

from __future__ import annotations

import pytest

from workbench.pretok import CAUSES, classify, diff
from workbench.pretok.align import regions


def _pieces(*texts: str) -> list[int]:
    """End offsets of consecutive pieces."""
    out, pos = [], 0
    for t in texts:
        pos += len(t)
        out.append(pos)
    return out


def test_regions_between_shared_boundaries():
    # "abcdef": a = ab|cd|ef, b = abcd|ef -> one region [0, 4)
    assert regions(_pieces("ab", "cd", "ef"), _pieces("abcd", "ef")) == [(0, 4)]
    assert regions(_pieces("ab", "cd"), _pieces("ab", "cd")) == []
    # two separate regions: a|bc|d vs ab|c|d
    assert regions(_pieces("a", "bc", "d"), _pieces("ab", "c", "d")) == [(0, 3)]
    assert regions(_pieces("a", "b", "cd", "e", "f"), _pieces("ab", "cd", "ef")) == [(0, 2), (4, 6)]


@pytest.mark.parametrize(
    "text,a,b,expected",
    [
        ("ChatGPT 中文English", "kimi-k2", "o200k", [(7, 17, "han", [" ", "中文", "English"], [" 中文English"])]),
        ("x */\n/y", "kimi-k2", "o200k", [(1, 7, "slash-tail", [" */\n", "/y"], [" */\n/", "y"])]),
        ("it's", "kimi-k2", "cl100k", [(0, 4, "contraction", ["it's"], ["it", "'s"])]),
        ("getHTTPResponse", "o200k", "cl100k", [(0, 15, "case", ["get", "HTTPResponse"], ["getHTTPResponse"])]),
        ("plain words", "kimi-k2", "o200k", []),
    ],
)
def test_diff_schemes(text, a, b, expected):
    d = diff(text, a, b)
    got = [(v.start, v.end, v.cause, [p.text for p in v.a], [p.text for p in v.b]) for v in d.divergences]
    assert got == expected
    assert d.identical is (not expected)
    assert "".join(p.text for p in d.pieces_a) == text == "".join(p.text for p in d.pieces_b)
    for v in d.divergences:
        assert v.text == text[v.start:v.end] and v.cause in CAUSES


def test_diff_engines_labels_and_json():
    d = diff("中文 ok", "kimi-k2", "kimi-k2", engine_b="tokenizers")
    assert (d.a, d.b, d.identical) == ("kimi-k2", "kimi-k2/tokenizers", True)
    doc = d.to_dict()
    assert doc["pieces_a"] == ["中文", " ok"] and doc["divergences"] == []


def test_diff_to_dict_names_branches():
    doc = diff("a中", "kimi-k2", "o200k").to_dict()
    assert doc["divergences"] == [{
        "start": 0, "end": 2, "text": "a中", "a": ["a", "中"], "b": ["a中"],
        "branches_a": ["word", "han"], "branches_b": ["word"], "cause": "han",
    }]


@pytest.mark.parametrize(
    "text,a,b,cause",
    [
        ("x1", ["x", "1"], ["x1"], "digits"),
        ("a\u0301", ["a", "\u0301"], ["a\u0301"], "mark"),
        ("  ", [" ", " "], ["  "], "whitespace"),
        ("\n\n", ["\n", "\n"], ["\n\n"], "newline"),
        ("!?", ["!", "?"], ["!?"], "punct"),
        ("ab", ["a", "b"], ["ab"], "letters"),
    ],
)
def test_classify_rules(text, a, b, cause):
    assert classify(text, a, b) == cause


def test_classify_gap_is_unmatched():
    assert classify("ab", ["a", "b"], ["ab"], ["word", None, "word"]) == "unmatched"


def test_recent_characters_are_a_unicode_version_cause_only_across_engines():
    # U+2EBF0 (CJK Ext. I) is unknown to Python 3.11's unicodedata (Unicode 14) but Han to `regex`
    d = diff("a\U0002ebf0", "kimi-k2", "o200k")
    assert [v.cause for v in d.divergences] == ["han"]
    assert classify("a\U000323b0", ["a", "\U000323b0"], ["a\U000323b0"], across_engines=True) == "unicode-version"


@pytest.mark.parametrize("text,cause", [("ChatGPT", "case"), ("数字〇", "han"), ("it'ſ", "contraction")])
def test_what_the_text_holds_names_llama_cpps_divergences(text, cause):
    """llama.cpp's splitter makes pieces no kimi-k2 alternative makes; the content rules come first, so each
    divergence is named for what it is (by hand: a case transition, a Han stretch, a contraction)."""
    d = diff(text, "kimi-k2", "kimi-k2", engine_b="llama.cpp")
    assert [v.cause for v in d.divergences] == [cause]
    assert any(p.branch is None for v in d.divergences for p in v.b)  # the old rule called these "unmatched"
