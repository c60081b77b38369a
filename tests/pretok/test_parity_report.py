"""Engine parity: the matrix, the causes and minimal examples, planted faults found, bad input refused."""

from __future__ import annotations

import json

import pytest

from tests.helpers import CORPUS
from workbench.errors import InputError, UnknownNameError
from workbench.pretok import SCHEMES, Branch, Scheme
from workbench.pretok.engines import RegexEngine
from workbench.pretok.parity import engine_parity


class TwoDigitEngine(RegexEngine):
    """The reference with digits grouped by two: a deliberately wrong implementation."""

    name = "two-digit"

    def _altered(self, scheme: Scheme) -> Scheme:
        branches = tuple(Branch(b.name, b.pattern.replace(r"\p{N}{1,3}", r"\p{N}{1,2}")) for b in scheme.branches)
        return Scheme(scheme.name, scheme.description, scheme.source, branches)

    def matches(self, text, scheme):
        return super().matches(text, self._altered(scheme))

    def findall(self, text, scheme):
        return super().findall(text, self._altered(scheme))


def test_the_reference_and_tiktoken_agree_on_the_corpus():
    r = engine_parity(["regex", "tiktoken"], corpus=[CORPUS])
    p = r.pair("regex", "tiktoken")
    assert r.n_corpus > 1000 and p.texts == r.n_corpus and p.differing == 0 and not p.groups


def test_a_planted_fault_is_found_shrunk_and_named():
    r = engine_parity(["regex", TwoDigitEngine()], fuzz=400, seed=3, texts=["Call 5551234 now"])
    p = r.pair("regex", "two-digit")
    assert p.differing > 0 and p.by_source["corpus"] == 1
    assert p.causes.most_common(1)[0][0] == "digits"
    for example in p.groups["digits"]:  # minimal: three numbers, cut 3 vs 2 + 1
        assert len(example.text) == 3 and all(ch.isnumeric() for ch in example.text)
        assert (list(example.a), [len(x) for x in example.b]) == ([example.text], [2, 1])


def test_llama_cpp_cuts_the_mark_off_and_the_report_says_where():
    r = engine_parity(["regex", "llama.cpp"], texts=["شكرا\u064b جزيلا", "plain words here"])
    p = r.pair("regex", "llama.cpp")
    assert (p.texts, p.differing) == (2, 1)
    (example,) = [x for xs in p.groups.values() for x in xs]
    assert "\u064b" in example.text and example.a != example.b
    assert r.versions["llama.cpp"]["library"].startswith("llama-cpp-python")
    assert r.versions["regex"]["unicode"] == "17.0"
    text = r.format()
    assert "regex vs llama.cpp: 1 of 2 texts" in text and "\u064b" in text


def test_same_seed_same_report():
    a = engine_parity(["regex", TwoDigitEngine()], fuzz=200, seed=7).to_dict()
    b = engine_parity(["regex", TwoDigitEngine()], fuzz=200, seed=7).to_dict()
    assert a == b and json.loads(json.dumps(a)) == a


def test_matrix_is_symmetric_with_zero_diagonal():
    m = engine_parity(["regex", "tokenizers", TwoDigitEngine()], fuzz=200, seed=1).matrix()
    assert (m.values == m.values.T).all() and (m.values.diagonal() == 0).all()
    assert m.loc["regex", "tokenizers"] == 0 and m.loc["regex", "two-digit"] > 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(engines=["regex"], fuzz=5), "at least two engines"),
    (dict(engines=["regex", "regex"], fuzz=5), "named twice"),
    (dict(engines=["regex", "tokenizers"]), "nothing to compare"),
    (dict(engines=["regex", "tokenizers"], corpus=["/no/such/corpus"]), "no such corpus file or folder"),
    (dict(engines=["regex", "tokenizers"], fuzz=-1), ">= 0"),
])
def test_bad_input_is_one_line(kwargs, message):
    with pytest.raises(InputError, match=message) as e:
        engine_parity(**kwargs)
    assert "\n" not in str(e.value)


def test_an_engine_without_the_scheme_says_so():
    assert "cl100k" in SCHEMES
    with pytest.raises(UnknownNameError):
        engine_parity(["regex", "nope"], fuzz=3)
