"""The Kimi-layout vocabulary: built deterministically, loaded, same ids in tiktoken and HF."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.tokenizer import build_vocab, load
from workbench.tokenizer.special import NAMED

IMPLS = ["tiktoken", "hf"]


def test_layout_of_the_built_vocabulary(assets):
    n = assets.n_ranks
    assert n == 4096 and assets.vocab_size == n + 256
    assert sorted(assets.ranks.values()) == list(range(n))
    assert all(assets.ranks[bytes([b])] == b for b in range(256))
    for offset, (content, special) in NAMED.items():
        assert assets.specials[n + offset].content == content and assets.specials[n + offset].special == special
    assert assets.specials[n + 5].content == f"<|reserved_token_{n + 5}|>"
    assert assets.eos == "<|im_end|>" and assets.special_id("<|im_end|>") == n + 2


def test_build_is_deterministic_and_old_config(tiny_vocab, tmp_path):
    again = build_vocab(tmp_path / "again", old=True)
    assert (again / "tiktoken.model").read_bytes() == (tiny_vocab / "tiktoken.model").read_bytes()
    assert json.loads((again / "tokenizer_config.json").read_text())["eos_token"] == "[EOS]"
    assert load(again).eos == "[EOS]"


def test_tiktoken_and_hf_give_identical_ids_on_the_corpus(assets, corpus_text):
    ids = assets.encode(corpus_text)
    assert ids == assets.encode(corpus_text, impl="hf")
    assert len(ids) < len(corpus_text.encode()) / 2  # the merges do compress
    assert assets.decode(ids) == corpus_text == assets.decode(ids, impl="hf")


@pytest.mark.parametrize("impl", IMPLS)
def test_special_tokens_encode_to_their_ids(assets, impl):
    n = assets.n_ranks
    text = f"<|im_user|>user<|im_middle|>hi<|im_end|><think>x</think><|reserved_token_{n + 100}|>"
    ids = assets.encode(text, impl=impl)
    assert ids[0] == n + 3 and n + 17 in ids and n + 2 in ids and ids[-1] == n + 100
    assert n + 22 in ids and n + 23 in ids  # <think>, </think>
    assert assets.decode(ids, impl=impl) == text


SPECIAL = st.sampled_from(["<|im_end|>", "<|im_user|>", "<think>", "</think>", "[EOS]", "<|tool_call_begin|>"])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(parts=st.lists(st.one_of(st.text(max_size=12), SPECIAL), max_size=6))
def test_round_trip_and_parity_on_arbitrary_unicode(assets, parts):
    text = "".join(parts)
    ids = assets.encode(text)
    assert ids == assets.encode(text, impl="hf")
    assert assets.decode(ids) == text


@pytest.mark.parametrize(
    "setup,message",
    [
        (lambda d: (d / "tokenizer_config.json").write_text("{}"), "missing tiktoken.model"),
        (lambda d: (d / "tiktoken.model").write_text("QQ== 0\n"), "missing tokenizer_config.json"),
        (lambda d: [(d / "tiktoken.model").write_text("QQ== 0\n"), (d / "tokenizer_config.json").write_text('{"a": ')],
         r"malformed JSON at line 1 column 7"),
        (lambda d: [(d / "tiktoken.model").write_text("not base64 at all\n"), (d / "tokenizer_config.json").write_text("{}")],
         "not a tiktoken rank file"),
    ],
)
def test_bad_folders_are_clear_errors(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(InputError, match=message):
        load(tmp_path)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        load(tmp_path / "nope")


def test_unknown_impl(assets):
    with pytest.raises(InputError, match="unknown implementation 'sentencepiece' for hf-snapshot assets; valid: tiktoken, hf$"):
        assets.encode("x", impl="sentencepiece")
