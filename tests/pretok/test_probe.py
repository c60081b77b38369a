"""Engines read through a probe vocabulary: llama.cpp, gigatoken, tiktoken.

tiktoken on the scheme's own pattern is what ``tokenization_kimi.py`` runs, so it is ground
truth for the ``regex`` reference; llama.cpp and gigatoken run their own implementations,
whose measured disagreements are pinned here with minimal examples. A planted disagreement
shows that a clean comparison means something.
"""

from __future__ import annotations

import random

import pytest
import regex

from tests.pretok.test_golden import CASES
from workbench.errors import InputError, UnknownNameError
from workbench.pretok import ENGINES, SCHEMES, Branch, Scheme, diff, find_divergences, spans, split
from workbench.pretok.engines import UNICODE_LETTERS
from workbench.pretok.fuzz import random_text
from workbench.pretok.probe import Chains, Probe, reference_ends
from workbench.pretok.probed import GigatokenEngine, LlamaCppEngine, TiktokenEngine

PROBED = ["llama.cpp", "gigatoken", "tiktoken"]
SCHEME_NAMES = ["kimi-k2", "o200k", "cl100k"]


# -- the probe vocabulary ----------------------------------------------------------------

def test_first_chains_cover_a_reference_piece_and_the_next():
    # "ab cd!" -> reference pieces ab | " cd" | ! ; a chain from each piece's start over it and the next
    text, kimi = "ab cd!", SCHEMES["kimi-k2"]
    assert reference_ends(text, kimi) == [0, 2, 5, 6]
    chains = Chains(text, kimi)
    assert chains.active == {0: 5, 2: 6, 5: 6}
    got = chains.strings()
    assert {"ab cd", " cd!", "d", "!"} <= got and "ab cd!" not in got and "b c" not in got
    assert got == set(text) | {"ab", "ab ", "ab c", "ab cd", " c", " cd", " cd!"}


def test_long_reference_pieces_keep_their_prefixes():
    text = "x" * 50
    got = Chains(text, SCHEMES["kimi-k2"], max_piece=40).strings()
    assert {len(s) for s in got} == set(range(1, 41))


def test_probe_ranks_and_merges():
    p = Probe.build({"a", "b", "c", "ab", "bc", "abc", "é", "aé"})
    assert p.tokens[:256] == [bytes([b]) for b in range(256)]
    # bytes, then the partial character (none: é is two bytes), then by characters, then bytes
    assert p.tokens[256:] == ["é".encode(), b"ab", "aé".encode(), b"bc", b"abc"]
    assert p.merge_pairs() == [(b"\xc3", b"\xa9"), (b"a", b"b"), (b"a", "é".encode()), (b"b", b"c"),
                               (b"a", b"bc"), (b"ab", b"c")]
    four_bytes = Probe.build({"😀"})
    assert four_bytes.tokens[256:] == [b"\xf0\x9f", b"\xf0\x9f\x98", "😀".encode()]
    assert four_bytes.merge_pairs() == [(b"\xf0", b"\x9f"), (b"\xf0\x9f", b"\x98"), (b"\xf0\x9f\x98", b"\x80")]


# -- tiktoken: ground truth for the reference ------------------------------------------

@pytest.mark.parametrize("scheme", SCHEME_NAMES)
def test_tiktoken_agrees_with_reference_on_golden_cases(scheme):
    texts = [t for _, t, _ in CASES]
    for t in texts:
        assert split(t, scheme, "tiktoken") == split(t, scheme, "regex"), t


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
def test_tiktoken_agrees_with_reference_on_corpus_lines(scheme, corpus_files):
    lines = [line for f in corpus_files for line in f.read_text(encoding="utf-8").splitlines(keepends=True)]
    engine = TiktokenEngine()
    engine.prepare(lines, SCHEMES[scheme])
    differ = [line for line in lines if split(line, scheme, engine) != split(line, scheme, "regex")]
    assert len(lines) > 2000 and differ == []


# -- gigatoken and llama.cpp: agree where they should -----------------------------------

@pytest.mark.parametrize("engine", ["llama.cpp", "gigatoken"])
@pytest.mark.parametrize("scheme,text,expected", [
    ("kimi-k2", "The quick brown fox isn't lazy.", ["The", " quick", " brown", " fox", " isn't", " lazy", "."]),
    ("o200k", "The quick brown fox isn't lazy.", ["The", " quick", " brown", " fox", " isn't", " lazy", "."]),
    ("cl100k", "The quick brown fox isn't lazy.", ["The", " quick", " brown", " fox", " isn", "'t", " lazy", "."]),
    ("kimi-k2", "1234567 apples", ["123", "456", "7", " apples"]),
    ("cl100k", "1234567 apples", ["123", "456", "7", " apples"]),
    ("kimi-k2", "我用Python写代码，好", ["我用", "Python", "写代码", "，", "好"]),
    ("o200k", "我用Python写代码", ["我用Python写代码"]),
    ("kimi-k2", "a\n\n  b\t", ["a", "\n\n", " ", " b", "\t"]),
])
def test_native_engines_agree_where_they_should(engine, scheme, text, expected):
    assert split(text, scheme, "regex") == expected  # the expectation is the reference's
    assert split(text, scheme, engine) == expected


def test_llama_cpp_cuts_before_combining_marks():
    """Arabic shukran with fathatan (U+064B, \\p{Mn}): the reference keeps \\p{M} inside the word
    (it is in Kimi's letter classes); llama.cpp's hand-written kimi-k2 splitter counts only
    \\p{L} as letters (src/unicode.cpp, unicode_regex_split_custom_kimi_k2) and cuts before it."""
    text = "شكرا\u064b"
    assert split(text) == [text]
    assert split(text, engine="llama.cpp") == ["شكرا", "\u064b"]
    d = diff(text, "kimi-k2", "kimi-k2", engine_a="regex", engine_b="llama.cpp")
    assert (d.a, d.b) == ("kimi-k2", "kimi-k2/llama.cpp")
    assert [(v.start, v.end, [p.text for p in v.a], [p.text for p in v.b]) for v in d.divergences] == \
        [(0, 5, [text], ["شكرا", "\u064b"])]
    assert split(text, engine="tiktoken") == [text]  # the official behaviour agrees with the reference


#: measured disagreements, minimal: (scheme, text, engine, engine's pieces); the reference's
#: pieces are asserted too, and tiktoken (the official behaviour) must agree with the reference.
MEASURED = [
    # llama.cpp kimi-k2: one letter run, no case classes
    pytest.param("kimi-k2", "aA", "llama.cpp", ["aA"], id="llama.cpp-kimi-camel"),
    # llama.cpp kimi-k2: unicode_cpt_is_han lists ideograph blocks, not Script=Han (々 U+3005 is Lm)
    pytest.param("kimi-k2", "+々", "llama.cpp", ["+々"], id="llama.cpp-kimi-han-script"),
    # llama.cpp kimi-k2 and gpt-4o: contractions compare unicode_tolower(c) or [sS] with 's':
    # (?i:'s) also matches U+017F LONG S, whose simple case folding is 's'
    pytest.param("kimi-k2", "it'ſ", "llama.cpp", ["it", "'ſ"], id="llama.cpp-kimi-long-s"),
    pytest.param("o200k", "it'ſ", "llama.cpp", ["it", "'ſ"], id="llama.cpp-gpt4o-long-s"),
    # llama.cpp gpt-4o: its adapted regex spells \p{Lu}/\p{Ll} as "letter but not a-z / A-Z",
    # so a non-ASCII capital counts as lower case, and \p{M} is left out of the word
    pytest.param("o200k", "aÉ", "llama.cpp", ["aÉ"], id="llama.cpp-gpt4o-case"),
    pytest.param("o200k", "A\u0301", "llama.cpp", ["A", "\u0301"], id="llama.cpp-gpt4o-mark"),
    # gigatoken gpt4 (cl100k): trailing whitespace after a line break joins it at the end of text
    pytest.param("cl100k", "a\n ", "gigatoken", ["a", "\n "], id="gigatoken-gpt4-newline-space"),
]


@pytest.mark.parametrize("scheme,text,engine,pieces", MEASURED)
def test_measured_disagreements(scheme, text, engine, pieces):
    reference = split(text, scheme)
    assert reference != pieces
    assert split(text, scheme, "tiktoken") == reference
    assert split(text, scheme, engine) == pieces
    assert not diff(text, scheme, scheme, engine_b=engine).identical


# -- a planted disagreement: the harness finds it ---------------------------------------

def _two_digit(scheme: Scheme) -> Scheme:
    """``scheme`` with ``\\p{N}{1,2}`` instead of ``\\p{N}{1,3}``."""
    branches = tuple(Branch(b.name, b.pattern.replace(r"\p{N}{1,3}", r"\p{N}{1,2}")) for b in scheme.branches)
    assert branches != scheme.branches
    return Scheme(f"{scheme.name}-2digits", "planted: digits in twos", "test", branches)


class PlantedEngine(TiktokenEngine):
    """tiktoken running a deliberately altered pattern, whatever scheme it is asked for."""

    name = "planted"

    def matches(self, text, scheme):
        return super().matches(text, _two_digit(scheme))

    def prepare(self, texts, scheme):
        super().prepare(texts, _two_digit(scheme))


def test_planted_disagreement_is_found():
    planted = PlantedEngine()
    assert split("12345", "kimi-k2", planted) == ["12", "34", "5"]
    r = find_divergences("kimi-k2", "kimi-k2", engine_b=planted, budget=1000, seed=0)
    # the planted engine cuts digit runs 2 + 2 + 1, pieces kimi-k2's alternatives cannot make there; the content
    # rules come first, so a stretch is named by what it holds: "digits", or "han" where a Han character (tried
    # before digits) sits in the same stretch, never "unmatched"
    assert r.diverged > 0 and set(r.counts) <= {"digits", "han"} and "digits" in r.counts
    for x in r.groups["digits"]:  # minimal: three numbers, cut 3 vs 2 + 1
        assert regex.fullmatch(r"\p{N}{3}", x.text) and len(x.a) == 1 and [len(p) for p in x.b] == [2, 1], x
    clean = find_divergences("kimi-k2", "kimi-k2", engine_b="tiktoken", budget=1000, seed=0)
    assert (clean.tried, clean.diverged) == (1000, 0)


# -- determinism and the batch path -----------------------------------------------------

def test_same_seed_same_report_with_llama_cpp():
    runs = [find_divergences("kimi-k2", "kimi-k2", engine_b=e, budget=250, seed=11).to_dict()
            for e in ("llama.cpp", "llama.cpp", LlamaCppEngine())]
    assert runs[0]["diverged"] > 0 and runs[0]["b"] == "kimi-k2/llama.cpp"
    assert runs[0] == runs[1] == {**runs[2], "b": runs[0]["b"]}


@pytest.mark.parametrize("engine_cls", [LlamaCppEngine, GigatokenEngine, TiktokenEngine], ids=PROBED)
def test_prepare_gives_the_per_text_pieces(engine_cls):
    rng = random.Random(2)
    texts = [random_text(rng, 16) for _ in range(150)] + [t for _, t, _ in CASES] + ["شكرا\u064b جدا"]
    batch, single = engine_cls(), engine_cls()
    for name in ("kimi-k2", "o200k"):
        scheme = SCHEMES[name]
        batch.prepare(texts, scheme)
        assert [batch.matches(t, scheme) for t in texts] == [single.matches(t, scheme) for t in texts]


# -- limits, stated in workbench.pretok.probe -------------------------------------------

def test_glue_of_many_reference_pieces_is_seen_exactly():
    """llama.cpp keeps "aAaAaA" whole; the reference has 4 pieces. The first probe's chains
    reach over two pieces, so the cuts it shows stay open; the next probe settles them."""
    text = "aAaAaA"
    assert split(text) == ["a", "Aa", "Aa", "A"]
    assert split(text, "kimi-k2", "llama.cpp") == [text]
    assert split(text, "kimi-k2", LlamaCppEngine(rounds=1)) != [text]  # one probe is not enough
    assert not LlamaCppEngine(rounds=1).seen(text, SCHEMES["kimi-k2"]).exact


def test_pieces_beyond_max_piece_are_reported_open():
    """A pre-token longer than max_piece comes back as several tokens; the cuts between them
    stay open, count as cuts, and exact_pieces says None."""
    text = "a" * 20 + " b"
    small = LlamaCppEngine(max_piece=8)
    seen = small.seen(text, SCHEMES["kimi-k2"])
    assert not seen.exact and set(seen.unproven) <= {8, 16}
    assert "".join(split(text, "kimi-k2", small)) == text and len(split(text, "kimi-k2", small)) > 2
    assert small.exact_pieces([text, "ab cd"], "kimi-k2") == [None, ("ab", " cd")]
    assert LlamaCppEngine().exact_pieces([text], "kimi-k2") == [("a" * 20, " b")]


def test_runs_of_one_character_stop_at_the_merge_budget():
    """In a run of one character every cut of every prefix is a merge: a chain stops at
    CHAIN_MERGES (some 256 characters), and longer runs stay open instead of costing n²."""
    kimi, engine = SCHEMES["kimi-k2"], LlamaCppEngine(segment_chars=None)
    assert engine.seen(" " * 200 + "x", kimi).exact
    seen = engine.seen(" " * 5000 + "x", kimi)
    assert not seen.exact and 2 < len(seen.matches) < 60 and seen.matches[-1][1] == 5001


@pytest.mark.parametrize("scheme", ["kimi-k2", "o200k"])
def test_proven_pieces_match_a_full_width_probe(scheme):
    """The oracle: a probe holding every substring of a short text, with every split as a merge,
    makes each of llama.cpp's pre-tokens one token (llama_split's full-width probe)."""
    rng = random.Random(5)
    texts = [random_text(rng, 8) for _ in range(120)] + ["aAaAaA", "شكرا\u064b جدا", "it'ſ", "A\u0301b"]
    engine, sch = LlamaCppEngine(), SCHEMES[scheme]
    every = {t[i:j] for t in texts for i in range(len(t)) for j in range(i + 1, len(t) + 1)}
    probe = Probe.build(every)
    oracle = [probe.read(t, t.encode(), ids)[0] for t, ids in
              zip(texts, engine.encode(probe, sch, engine.native(sch), texts))]
    engine.prepare(texts, sch)
    assert [engine.matches(t, sch) for t in texts] == oracle
    assert all(engine.seen(t, sch).exact for t in texts)


@pytest.mark.parametrize("engine", PROBED)
def test_long_pieces_and_long_texts(engine):
    """Long pieces (a hundred spaces) are one token; texts longer than segment_chars are
    probed in segments cut at safe boundaries."""
    text = "x" * 40 + " " * 100 + "y\n" + "Lorem ipsum 12345 中文字\n" * 30
    assert split(text, "kimi-k2", engine) == split(text, "kimi-k2")
    small = type(ENGINES[engine])(segment_chars=64)
    assert spans(text, "kimi-k2", small) == spans(text, "kimi-k2")


@pytest.mark.parametrize("engine", ["llama.cpp", "gigatoken"])
def test_engines_with_their_own_schemes_refuse_other_patterns(engine):
    other = Scheme("letters", "test", "test", (Branch("letters", r"\p{L}+"),))
    with pytest.raises(UnknownNameError, match=rf"engine '{engine}' has no pre-tokenizer for scheme 'letters'.*tiktoken"):
        split("ab", other, engine)
    assert not ENGINES[engine].runs_pattern


def test_tiktoken_runs_any_pattern():
    letters = Scheme("letters", "test", "test", (Branch("letters", r"\p{L}+"),))
    assert split("ab 12 cd", letters, "tiktoken") == ["ab", " 12 ", "cd"]  # tiktoken drops the gap; spans refills it


@pytest.mark.parametrize("engine", PROBED)
def test_lone_surrogate_is_a_clear_error(engine):
    with pytest.raises(InputError, match=r"lone surrogate U\+D800 at index 1"):
        split("a\ud800", "kimi-k2", engine)


def test_unicode_versions_are_measured():
    for _, letter in UNICODE_LETTERS:  # each sample is a letter to the reference (Unicode 17 tables)
        assert regex.fullmatch(r"\p{Lo}", letter)
    assert ENGINES["regex"].unicode_version == "17.0"
    assert ENGINES["llama.cpp"].unicode_version == "15.0"  # pinned llama-cpp-python 0.3.36
    assert ENGINES["tokenizers"].unicode_version < "17.0"  # cf. test_unicode_version_divergence
    assert ENGINES["tiktoken"].unicode_version != ""
