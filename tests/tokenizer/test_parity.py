"""Token-id parity across tiktoken, HF and llama.cpp: measured on the corpus, planted faults found by cause."""

from __future__ import annotations

import dataclasses
import json
import unicodedata

import gguf
import pytest
from tokenizers import Tokenizer, normalizers

from workbench.errors import InputError
from workbench.gguffile.bpe import add_minimal_hparams, finish
from workbench.pretok.pieces import split
from workbench.pretok.probed import LlamaCppEngine
from workbench.pretok.schemes import SCHEMES
from workbench.tokenizer import load
from workbench.tokenizer.gguf_vocab import add_tokenizer
from workbench.tokenizer.parity import CAUSES, token_parity

ALL = ("tiktoken", "hf", "llama.cpp")


@pytest.fixture(scope="module")
def corpus_report(assets, corpus_files):
    return token_parity(assets, corpus=corpus_files, examples_per_cause=3)


def _lines(files):
    return [line for f in files for line in f.read_text(encoding="utf-8").splitlines(keepends=True)]


def _planted(assets, tok: Tokenizer):
    """The same assets, but with ``tok`` as their HF tokenizer."""
    planted = dataclasses.replace(assets)
    planted.__dict__["hf"] = tok  # cached_property storage: what assets.hf returns from now on
    return planted


def test_corpus_tiktoken_and_hf_agree_llama_cpp_differs_by_its_split(corpus_report, corpus_files, vocab_gguf, assets):
    lines = _lines(corpus_files)
    # the counts, measured independently: llama-cpp-python's own Llama on the same conversion, line by line
    import llama_cpp

    llama = llama_cpp.Llama(str(vocab_gguf), vocab_only=True, verbose=False)
    ref = [assets.tiktoken.encode(x, disallowed_special=()) for x in lines]
    ids = [llama.tokenize(x.encode(), add_bos=False, special=False) for x in lines]
    llama.close()
    differ = sum(a != b for a, b in zip(ref, ids))

    same = corpus_report.pair("tiktoken", "hf")
    assert (same.texts, same.differ, same.causes) == (len(lines), 0, {})
    assert same.tokens_a == same.tokens_b == sum(map(len, ref))
    for a in ("tiktoken", "hf"):
        p = corpus_report.pair(a, "llama.cpp")
        assert p.texts == len(lines) and p.differ == differ > 0
        assert (p.tokens_a, p.tokens_b) == (sum(map(len, ref)), sum(map(len, ids)))
        assert dict(p.causes) == {"pre-tokenization": differ}  # the merges agree; the pieces do not
        assert 0 < p.changed_a < p.changed_b <= p.tokens_b     # llama.cpp cuts more: more, shorter tokens
    # Arabic tanween: the fathatan U+064B after the alef is cut off by llama.cpp
    assert ("tiktoken", "llama.cpp", "rtl.txt:77", "pre-tokenization") in corpus_report.differing


def test_corpus_examples_are_minimal_and_show_the_split(corpus_report):
    examples = corpus_report.examples_for("tiktoken", "llama.cpp", "pre-tokenization")
    assert 1 <= len(examples) <= 3
    for e in examples:
        assert len(e.text) <= 3 and e.text in e.original
        assert e.ids["tiktoken"] != e.ids["llama.cpp"] and e.ids["tiktoken"] == e.ids["hf"]
        assert e.splits["tiktoken"] == split(e.text, "kimi-k2") != e.splits["llama.cpp"]
        assert "".join(e.splits["llama.cpp"]) == e.text
        # on this corpus it is always a combining mark that llama.cpp splits off
        mark = next(i for i, ch in enumerate(e.text) if unicodedata.category(ch).startswith("M"))
        assert mark in {sum(map(len, e.splits["llama.cpp"][:k])) for k in range(len(e.splits["llama.cpp"]))}
        assert "pre-tokens:" in e.note


@pytest.mark.parametrize("text,pieces", [
    ("شكراً", ("شكرا", "ً")),                                   # a mark is not a letter to llama.cpp
    ("ChatGPT 中文English", ("ChatGPT", " ", "中文", "English")),  # and case changes do not cut
    ("12345 apples", ("123", "45", " apples")),
    ("*/\n/next", ("*/\n", "/next")),
    ("a" * 130, ("a" * 130,)),                                 # one long piece, proven too
])
def test_llama_cpp_pre_tokens_through_a_probe_vocabulary(text, pieces):
    # expected values read off unicode_regex_split_custom_kimi_k2 (llama.cpp src/unicode.cpp)
    assert LlamaCppEngine(segment_chars=None).exact_pieces([text], "kimi-k2") == [pieces]


def test_llama_cpp_pre_tokens_too_long_to_prove_are_unknown():
    # a pre-token longer than the longest chain comes back as several tokens, its cuts unproven
    assert LlamaCppEngine(max_piece=64).exact_pieces(["a" * 130, "ab"], "kimi-k2") == [None, ("ab",)]


def test_a_single_known_word(assets):
    r = token_parity(assets, ["شكراً"], impls=("tiktoken", "llama.cpp"), examples_per_cause=1)
    assert r.differing == [("tiktoken", "llama.cpp", "text 0", "pre-tokenization")]
    assert r.sources == {"texts": 1, "corpus": [], "corpus_lines": 0, "fuzz": 0, "seed": 0}
    [e] = r.examples
    assert e.original == "شكراً" and e.text == "اً"
    assert e.splits == {"tiktoken": ["اً"], "llama.cpp": ["ا", "ً"]}
    assert e.pieces["tiktoken"] == ["اً"] and e.pieces["llama.cpp"] == ["ا", "ً"]


def test_planted_pattern_is_pre_tokenization(assets, corpus_files):
    # an HF tokenizer converted with GPT-4's pattern: words are \p{L}+ (marks and contractions cut off)
    files = [f for f in corpus_files if f.name in ("marks.txt", "en.txt")]
    wrong = _planted(assets, dataclasses.replace(assets, pattern=SCHEMES["cl100k"].pattern).hf)
    r = token_parity(wrong, corpus=files, impls=("tiktoken", "hf"), examples_per_cause=2)
    p = r.pair("tiktoken", "hf")
    assert p.differ > 10 and dict(p.causes) == {"pre-tokenization": p.differ}
    assert token_parity(assets, corpus=files, impls=("tiktoken", "hf")).pair("tiktoken", "hf").differ == 0
    e = r.examples[0]
    assert e.splits["hf"] != e.splits["tiktoken"] and e.ids["hf"] != e.ids["tiktoken"]


def test_planted_missing_merge_is_merges(assets, corpus_files):
    config = json.loads(assets.hf.to_str())
    assert config["model"]["merges"][0] == ["Ġ", "Ġ"]  # the first merge: two spaces
    del config["model"]["merges"][0]
    r = token_parity(_planted(assets, Tokenizer.from_str(json.dumps(config))), corpus=corpus_files,
                     impls=("tiktoken", "hf"), examples_per_cause=1)
    p = r.pair("tiktoken", "hf")
    assert p.differ > 0 and dict(p.causes) == {"merges": p.differ}
    [e] = r.examples
    # not "  " alone: a piece that is a whole token is looked up, not merged (HF's ignore_merges, tiktoken alike)
    assert e.text == "  \n" and e.ids == {"tiktoken": [256, 10], "hf": [32, 32, 10]}
    assert e.splits["hf"] == e.splits["tiktoken"] == ["  \n"]  # same pieces; the merge is what is missing
    assert e.note == "hf gives [32, 32, 10]; the reference merges on its pre-tokens ['  \\n'] give [256, 10]"


def test_planted_missing_merge_in_a_gguf_is_merges_for_llama_cpp(assets, corpus_files, tmp_path):
    class DropFirstMerge:  # a writer that loses the first merge on its way to the file
        def __init__(self, w):
            self.w = w

        def __getattr__(self, name):
            return getattr(self.w, name)

        def add_token_merges(self, merges):
            self.w.add_token_merges(merges[1:])

    w = gguf.GGUFWriter(tmp_path / "dropped.gguf", arch="deepseek2")
    add_minimal_hparams(w, assets.vocab_size)
    add_tokenizer(DropFirstMerge(w), assets)
    finish(w)
    files = [f for f in corpus_files if f.name in ("mixed.txt", "rtl.txt")]
    r = token_parity(load(tmp_path / "dropped.gguf"), corpus=files, impls=("tiktoken", "llama.cpp"),
                     examples_per_cause=1)
    causes = r.pair("tiktoken", "llama.cpp").causes
    assert causes["merges"] > 0 and causes["pre-tokenization"] > 0 and set(causes) == {"merges", "pre-tokenization"}
    assert ("tiktoken", "llama.cpp", "rtl.txt:77", "pre-tokenization") in r.differing
    assert r.examples_for("tiktoken", "llama.cpp", "merges")[0].ids["llama.cpp"] == [32, 32]
    assert "dropped.gguf itself" in r.compared["llama.cpp"]


def test_planted_normaliser_is_normalisation(assets):
    tok = Tokenizer.from_str(assets.hf.to_str())
    tok.normalizer = normalizers.NFKC()
    r = token_parity(_planted(assets, tok), ["x ①", "plain ascii", "ｶ"], impls=("tiktoken", "hf"))
    assert r.differing == [("tiktoken", "hf", "text 0", "normalisation"), ("tiktoken", "hf", "text 2", "normalisation")]
    e = r.examples[0]  # shrinking swaps ① for the plainest number the fuzz alphabet has
    assert (e.original, e.text, e.note) == ("x ①", "²", "hf decodes to '2' (the NFKC form of the text)")


@pytest.mark.parametrize("special,expected", [
    # plain text: HF and llama.cpp still match <think> (not flagged special); tiktoken does not
    (False, [("tiktoken", "hf", "text 0", "special-tokens"), ("tiktoken", "llama.cpp", "text 0", "special-tokens")]),
    (True, []),
], ids=["plain", "special"])
def test_special_token_strings(assets, special, expected):
    r = token_parity(assets, ["<think>plan</think>", "<|im_end|>x", "[EOS]"], special=special, examples_per_cause=1)
    assert r.differing == expected
    if not special:
        e = r.examples_for("tiktoken", "hf")[0]
        assert e.text == "<think>" and e.ids["hf"] == e.ids["llama.cpp"] == [assets.special_id("<think>")]
        assert e.note == "tiktoken makes no special ids; hf makes ['<think>']"


def test_gguf_assets_run_llama_cpp_on_the_file(assets, vocab_gguf, corpus_files):
    files = [f for f in corpus_files if f.name == "rtl.txt"]
    from_file = token_parity(load(vocab_gguf), corpus=files, examples_per_cause=0)
    from_folder = token_parity(assets, corpus=files, examples_per_cause=0)
    assert [p.to_dict() for p in from_file.pairs] == [p.to_dict() for p in from_folder.pairs]
    assert from_file.pair("tiktoken", "llama.cpp").differ > 0
    assert "vocab.gguf itself" in from_file.compared["llama.cpp"]
    assert "written from the folder" in from_folder.compared["llama.cpp"]


def test_fuzz_is_deterministic(assets):
    one = token_parity(assets, [], fuzz=300, seed=1, examples_per_cause=1).to_dict()
    assert one == token_parity(assets, [], fuzz=300, seed=1, examples_per_cause=1).to_dict()
    other = token_parity(assets, [], fuzz=300, seed=2, examples_per_cause=0).to_dict()
    assert one["sources"]["fuzz"] == 300 and one["differing"] != other["differing"]
    assert {d["cause"] for d in one["differing"]} <= {"pre-tokenization"}  # random text finds the same kind


def test_report_renders(corpus_report):
    d = json.loads(json.dumps(corpus_report.to_dict()))
    assert d["impls"] == list(ALL) and d["reference"] == "tiktoken" and d["causes"] == dict(CAUSES)
    assert [(p["a"], p["b"]) for p in d["pairs"]] == [("tiktoken", "hf"), ("tiktoken", "llama.cpp"),
                                                      ("hf", "llama.cpp")]
    assert set(d["versions"]) >= {"tiktoken", "tokenizers", "transformers", "llama-cpp-python", "llama.cpp"}
    table = corpus_report.table()
    assert list(table["differ"]) == [p.differ for p in corpus_report.pairs] and "pre-tokenization" in table
    text = corpus_report.format()
    p = corpus_report.pair("tiktoken", "llama.cpp")
    assert f"tiktoken / llama.cpp · pre-tokenization: {p.differ} texts" in text
    assert f"pre-tokenization {p.differ}" in text and "versions: tiktoken" in text
    assert all(len(line) <= 100 for line in text.splitlines() if line.startswith("    "))


def test_input_errors(assets, tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt: not valid UTF-8 at byte 3"):
        token_parity(assets, corpus=[bad], impls=("tiktoken", "hf"))
    assert token_parity(assets, corpus=[bad], impls=("tiktoken", "hf"), errors="replace").sources["corpus_lines"] == 1
    with pytest.raises(InputError, match=r"nope.txt: no such corpus file or folder"):
        token_parity(assets, corpus=[tmp_path / "nope.txt"])
    with pytest.raises(InputError, match=r"unknown implementation 'sentencepiece'; valid: tiktoken, hf, llama.cpp"):
        token_parity(assets, ["x"], impls=("tiktoken", "sentencepiece"))
    with pytest.raises(InputError, match=r"at least two implementations, got hf"):
        token_parity(assets, ["x"], impls=("hf",))
    with pytest.raises(InputError, match=r"text 1: not encodable as UTF-8"):
        token_parity(assets, ["ok", "\ud800"], impls=("tiktoken", "hf"))
