"""Every engine, every scheme: pieces rejoin, branches are named, engines agree."""

from __future__ import annotations

import unicodedata

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError, UnknownNameError
from workbench.pretok import ENGINES, SCHEMES, Branch, Scheme, diff, spans, split
from workbench.registry import Registry

ENGINE_NAMES = list(ENGINES)
#: engines that run any scheme's pattern (llama.cpp and gigatoken have their own few schemes)
PATTERN_ENGINES = [n for n, e in ENGINES.items() if e.runs_pattern]
SCHEME_NAMES = list(SCHEMES)

#: Characters every engine's Unicode tables know: those assigned in Python's unicodedata
#: (Unicode 14 on Python 3.11). Newer ones are covered by test_unicode_version_divergence.
KNOWN_TEXT = st.text(st.characters(exclude_categories=("Cs",)).filter(lambda c: unicodedata.category(c) != "Cn"),
                     max_size=40)


def test_patterns_are_the_published_ones():
    # written out by hand from tokenization_kimi.py and tiktoken's openai_public.py
    kimi = (
        r"[\p{Han}]+"
        r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    )
    o200k = (
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    )
    cl100k = (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+"
    )
    assert SCHEMES["kimi-k2"].pattern == kimi
    assert SCHEMES["o200k"].pattern == o200k
    assert SCHEMES["cl100k"].pattern == cl100k


def test_regex_version0_trap_is_real_and_avoided():
    """Under regex's default VERSION0, && is not intersection: the Kimi pattern goes wrong silently."""
    text = "ChatGPT 中文English"
    assert regex.compile(SCHEMES["kimi-k2"].pattern).findall(text) == [" ", "中文"]
    assert split(text, "kimi-k2", "regex") == ["Chat", "GPT", " ", "中文", "English"]


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("scheme", SCHEME_NAMES)
@settings(max_examples=150, deadline=None, derandomize=True)
@given(text=st.text(max_size=40))
def test_pieces_rejoin_for_any_unicode(engine, scheme, text):
    pieces = spans(text, scheme, engine)
    assert "".join(p.text for p in pieces) == text
    assert [p.text for p in pieces] == split(text, scheme, engine)
    pos = 0
    for p in pieces:
        assert (p.start, p.end, p.text) == (pos, pos + len(p.text), text[p.start:p.end]) and p.text
        pos = p.end


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
@settings(max_examples=150, deadline=None, derandomize=True)
@given(text=st.text(max_size=40))
def test_reference_names_every_piece(scheme, text):
    # every scheme here covers all of Unicode: no gaps, every piece from a named alternative
    assert all(p.branch in SCHEMES[scheme].branch_names for p in spans(text, scheme, "regex"))


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=KNOWN_TEXT)
def test_tokenizers_engine_agrees_with_reference(scheme, text):
    assert split(text, scheme, "tokenizers") == split(text, scheme, "regex")


@pytest.mark.parametrize(
    "text,reference,tokenizers",
    [
        # U+323B0, CJK Unified Ideographs Extension J (Unicode 17): Han for `regex`, unknown to Oniguruma
        ("中\U000323b0", ["中\U000323b0"], ["中", "\U000323b0"]),
        # U+18D80, Tangut Components Supplement (Unicode 17): a letter for `regex` only
        ("a\U00018d80", ["a\U00018d80"], ["a", "\U00018d80"]),
        # U+2EBF0, CJK Extension I (Unicode 15.1): both know it
        ("中\U0002ebf0", ["中\U0002ebf0"], ["中\U0002ebf0"]),
    ],
)
def test_unicode_version_divergence(text, reference, tokenizers):
    """A measured disagreement: tokenizers' Oniguruma has older Unicode tables than `regex`."""
    assert split(text, "kimi-k2", "regex") == reference
    assert split(text, "kimi-k2", "tokenizers") == tokenizers
    d = diff(text, "kimi-k2", "kimi-k2", engine_b="tokenizers")
    assert [v.cause for v in d.divergences] == ([] if reference == tokenizers else ["unicode-version"])


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
def test_engines_agree_on_corpus_with_same_branches(scheme, corpus_text):
    ref = spans(corpus_text, scheme, "regex")
    other = spans(corpus_text, scheme, "tokenizers")
    assert other == ref  # same text, offsets and (attributed) branch for every piece


@pytest.mark.parametrize(
    "text,expected",
    [
        ("ChatGPT 中文English", ["word", "word_upper", "space_rest", "han", "word"]),
        ("x 42\n\n", ["word", "space_rest", "digits", "newline"]),
        ("end. ", ["word", "punct", "space"]),
    ],
)
def test_branch_names(text, expected):
    assert [p.branch for p in spans(text, "kimi-k2")] == expected


@pytest.mark.parametrize("engine", PATTERN_ENGINES)
def test_gaps_become_unmatched_pieces(engine):
    letters_only = Scheme("letters", "test scheme with gaps", "test", (Branch("letters", r"\p{L}+"),))
    text = "ab 12 cd"
    pieces = spans(text, letters_only, engine)
    assert [(p.text, p.branch) for p in pieces] == [("ab", "letters"), (" 12 ", None), ("cd", "letters")]
    assert split(text, letters_only, engine) == ["ab", " 12 ", "cd"]


@pytest.mark.parametrize("engine", PATTERN_ENGINES)
def test_bad_regex_is_a_clear_error(engine):
    bad = Scheme("bad", "unbalanced", "test", (Branch("oops", r"(ab"),))
    with pytest.raises(InputError, match=r"invalid regex.*\(ab"):
        split("ab", bad, engine)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match=r"unknown scheme 'gpt5'; valid: kimi-k2, o200k, cl100k"):
        split("x", scheme="gpt5")
    with pytest.raises(UnknownNameError,
                       match=r"unknown engine 'pcre'; valid: regex, tokenizers, llama.cpp, gigatoken, tiktoken"):
        split("x", engine="pcre")


def test_registry_refuses_duplicates():
    r: Registry[int] = Registry("thing")
    r.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        r.register("a", 2)
    assert list(r) == ["a"] and len(r) == 1


def test_engines_report_library_versions():
    assert ENGINES["regex"].version.startswith("regex ")
    assert ENGINES["tokenizers"].version.startswith("tokenizers ")
    assert ENGINES["llama.cpp"].version == "llama-cpp-python 0.3.36"  # pinned: its llama.cpp is the one documented
    assert ENGINES["gigatoken"].version.startswith("gigatoken ")
    assert ENGINES["tiktoken"].version.startswith("tiktoken ")
    assert PATTERN_ENGINES == ["regex", "tokenizers", "tiktoken"]
