"""find_divergences: deterministic fuzzing, minimal counterexamples, grouped by cause."""

from __future__ import annotations

import pytest

from workbench.pretok import find_divergences, split
from workbench.pretok.fuzz import ALPHABET, shrink


def test_kimi_vs_o200k_finds_han_and_slash_tail_minimally():
    r = find_divergences("kimi-k2", "o200k", budget=3000, seed=3)
    assert r.tried == 3000 and 0 < r.diverged < r.tried
    assert {"han", "slash-tail"} <= set(r.groups)
    for cause, found in r.groups.items():
        assert 1 <= len(found) <= 5
        for x in found:
            # each counterexample really splits differently, and is small
            assert split(x.text, "kimi-k2") == list(x.a) != list(x.b) == split(x.text, "o200k")
            assert len(x.text) <= 4, x
            assert x.cause == cause
    # Han glued to a neighbour by o200k: the shrinker reaches two characters
    assert any(len(x.text) == 2 and "中" in x.text for x in r.groups["han"])
    assert any(x.text.endswith("\n/") for x in r.groups["slash-tail"])


def test_same_seed_same_report():
    a = find_divergences("kimi-k2", "cl100k", budget=400, seed=7).to_dict()
    b = find_divergences("kimi-k2", "cl100k", budget=400, seed=7).to_dict()
    c = find_divergences("kimi-k2", "cl100k", budget=400, seed=8).to_dict()
    assert a == b and a != c


@pytest.mark.parametrize("scheme", ["kimi-k2", "o200k", "cl100k"])
def test_a_scheme_never_diverges_from_itself(scheme):
    r = find_divergences(scheme, scheme, budget=300, seed=0)
    assert (r.diverged, r.groups) == (0, {})


@pytest.mark.parametrize("scheme", ["kimi-k2", "o200k", "cl100k"])
def test_engines_agree_on_the_fuzz_alphabet(scheme):
    """The alphabet holds no character newer than both engines' Unicode tables: they agree."""
    r = find_divergences(scheme, scheme, engine_b="tokenizers", budget=1500, seed=5)
    assert r.diverged == 0, r.to_dict()["groups"]


def test_shrink_reaches_a_local_minimum():
    # "fails" while the text still contains both an 'x' and a 'y' in that order
    def fails(t: str) -> bool:
        return "x" in t and "y" in t[t.index("x"):]
    assert shrink("abxcdyef", fails) == "xy"


def test_alphabet_classes_are_disjoint():
    seen: set[str] = set()
    for members in ALPHABET.values():
        assert not (seen & set(members))
        seen |= set(members)


def test_negative_budget_is_refused():
    with pytest.raises(ValueError, match="budget"):
        find_divergences(budget=-1)
