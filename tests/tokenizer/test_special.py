"""The special-token layout matches the upstream table in ../shared/reference."""

from __future__ import annotations

import json

import pytest

from tests.helpers import REFERENCE
from workbench.tokenizer.special import KIMI_N_RANKS, N_SPECIAL, reserved_name, special_tokens, token_id

TABLE = REFERENCE / "kimi-special-tokens.json"


@pytest.mark.skipif(not TABLE.exists(), reason=f"reference table not found at {TABLE}")
def test_layout_matches_reference_table():
    ref = json.loads(TABLE.read_text(encoding="utf-8"))
    assert (ref["n_ranks"], ref["vocab_size"]) == (KIMI_N_RANKS, KIMI_N_RANKS + N_SPECIAL)
    ours = special_tokens()
    named = {t["id"]: (t["content"], t["special"]) for t in ref["tokens"]}
    assert {i: (t.content, t.special) for i, t in ours.items() if not t.content.startswith("<|reserved")} == named
    assert ref["gguf"]["tokenizer.ggml.eos_token_id (fixed)"] == token_id("<|im_end|>")
    assert ref["gguf"]["tokenizer.ggml.eos_token_id (old conversions)"] == token_id("[EOS]")
    assert ref["gguf"]["tokenizer.ggml.bos_token_id"] == token_id("[BOS]")
    assert ref["gguf"]["tokenizer.ggml.padding_token_id"] == token_id("[PAD]")


@pytest.mark.parametrize("n_ranks", [1000, KIMI_N_RANKS])
def test_every_slot_is_filled_in_order(n_ranks):
    toks = special_tokens(n_ranks)
    assert list(toks) == list(range(n_ranks, n_ranks + 256))
    assert toks[n_ranks + 2].content == "<|im_end|>" and toks[n_ranks + 23].content == "</think>"
    assert toks[n_ranks + 5] == (n_ranks + 5, reserved_name(n_ranks + 5), True)
    assert len({t.content for t in toks.values()}) == 256


def test_unknown_name():
    with pytest.raises(KeyError, match="not a named Kimi special token"):
        token_id("<|eot_id|>")
