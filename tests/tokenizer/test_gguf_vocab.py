"""The Kimi-layout vocabulary as GGUF metadata: read back by gguf, loaded and run by llama.cpp."""

from __future__ import annotations

import gguf
import pytest

from workbench.gguffile.bpe import finish
from workbench.tokenizer.gguf_vocab import write_vocab_gguf


@pytest.fixture(scope="module")
def llama(vocab_gguf):
    import llama_cpp

    return llama_cpp.Llama(str(vocab_gguf), vocab_only=True, verbose=False)


def _field(reader, key):
    f = reader.get_field(key)
    return f.contents() if f is not None else None


def test_keys_as_kimi_conversions_write_them(vocab_gguf, assets):
    r = gguf.GGUFReader(vocab_gguf)
    n = assets.n_ranks
    assert _field(r, "general.architecture") == "deepseek2"
    assert (_field(r, "tokenizer.ggml.model"), _field(r, "tokenizer.ggml.pre")) == ("gpt2", "kimi-k2")
    assert _field(r, "tokenizer.ggml.eos_token_id") == n + 2 and _field(r, "tokenizer.ggml.bos_token_id") == n
    assert _field(r, "tokenizer.ggml.padding_token_id") == n + 255
    tokens, types = _field(r, "tokenizer.ggml.tokens"), _field(r, "tokenizer.ggml.token_type")
    assert len(tokens) == n + 256 and tokens[n + 2] == "<|im_end|>" and tokens[32] == "Ġ"
    assert types[n + 2] == gguf.TokenType.CONTROL and types[n + 22] == gguf.TokenType.USER_DEFINED  # <think>
    assert types[100] == gguf.TokenType.NORMAL and len(_field(r, "tokenizer.ggml.merges")) == n - 256


def test_old_eos(assets, tmp_path):
    r = gguf.GGUFReader(write_vocab_gguf(assets, tmp_path / "old.gguf", eos="[EOS]"))
    assert _field(r, "tokenizer.ggml.eos_token_id") == assets.n_ranks + 1


@pytest.mark.parametrize("text", [
    "你好 ChatGPT 中文English",
    "<|im_user|>user<|im_middle|>Hi<|im_end|><|im_assistant|>assistant<|im_middle|><think>plan</think>ok",
    "1234567 it's THEY'RE */\n/next",
])
def test_llama_cpp_gives_the_reference_ids(llama, assets, text):
    assert llama.tokenize(text.encode(), add_bos=False, special=True) == assets.encode(text)


def test_llama_cpp_kimi_splitter_cuts_before_combining_marks(llama, assets):
    """A measured disagreement: alef + fathatan (U+064B, \\p{Mn}) is one piece for the reference
    pattern (\\p{M} is in Kimi's letter classes) but llama.cpp's hand-written kimi-k2 splitter
    cuts before the mark, so the ids differ."""
    text = "\u0634\u0643\u0631\u0627\u064b"  # shukran: ... alef + fathatan
    ours = llama.tokenize(text.encode(), add_bos=False, special=True)
    assert [llama.detokenize([i]) for i in ours][-1] == "\u064b".encode()
    assert ours != assets.encode(text)


def test_bpe_vocab_with_explicit_merges(tmp_path):
    """write_bpe_gguf: merges exactly as listed, the same bytes as gguf's own writer, and llama.cpp
    applies them; an empty merge list still loads (llama.cpp refuses a BPE vocabulary without merges)."""
    import llama_cpp

    from workbench.gguffile.bpe import add_bpe_tokenizer, add_minimal_hparams, write_bpe_gguf

    tokens = [bytes([b]) for b in range(256)] + ["é".encode(), b"ab", "aé".encode()]
    merges = [(256, 1), (257, 1), (258, 1)]  # é = C3|A9, ab = a|b, aé = a|é
    path = write_bpe_gguf(tmp_path / "bpe.gguf", tokens, merges, pre="gpt-4o")
    r = gguf.GGUFReader(path)
    assert _field(r, "tokenizer.ggml.merges") == ["Ã ©", "a b", "a Ã©"]
    assert _field(r, "tokenizer.ggml.tokens")[-2:] == ["aÃ©", "<|bos|>"] and _field(r, "tokenizer.ggml.bos_token_id") == 259
    assert _field(r, "tokenizer.ggml.token_type")[-2:] == [gguf.TokenType.NORMAL, gguf.TokenType.CONTROL]

    stock = gguf.GGUFWriter(tmp_path / "stock.gguf", arch="deepseek2")
    add_minimal_hparams(stock, len(tokens) + 1)
    add_bpe_tokenizer(stock, tokens, merges, pre="gpt-4o", control=["<|bos|>"])
    finish(stock)
    assert (tmp_path / "stock.gguf").read_bytes() == path.read_bytes()

    llama = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    pieces = [llama.detokenize([i]) for i in llama.tokenize("abé aé".encode(), add_bos=False, special=False)]
    assert pieces == [b"ab", "é".encode(), b" ", "aé".encode()]  # no merge (ab, é): two tokens
    bare = write_bpe_gguf(tmp_path / "bare.gguf", tokens[:256], [], pre="gpt-4o")
    assert llama_cpp.Llama(str(bare), vocab_only=True, verbose=False).tokenize(b"ab", add_bos=False) == [97, 98]
