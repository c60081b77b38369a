"""GGUF tokenizer metadata: the keys llama.cpp reads, ids across tiktoken / HF / llama.cpp, each check able to fail."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from tests.helpers import ROOT
from tests.verify.test_checks import _builtin_formatter
from workbench.errors import InputError
from workbench.gguffile.bpe import finish
from workbench.tokenizer import load
from workbench.tokenizer.gguf_vocab import write_vocab_gguf
from workbench.verify import check

GOOD_TEMPLATE = (ROOT / "workbench" / "chat" / "templates" / "kimi-k2.jinja").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def assets(tiny_vocab):
    return load(tiny_vocab)


@pytest.fixture(scope="module")
def good(assets, tmp_path_factory):
    return write_vocab_gguf(assets, tmp_path_factory.mktemp("g") / "good.gguf", chat_template=GOOD_TEMPLATE)


def poke(path, key, value):
    """Overwrite one scalar (or an equal-length string) in place, the way a hex editor would."""
    r = gguf.GGUFReader(path, "r+")
    part = r.get_field(key).parts[-1]
    part[:] = np.frombuffer(value, dtype=np.uint8) if isinstance(value, bytes) else value
    part.flush() if hasattr(part, "flush") else None
    del r


def test_a_good_gguf_is_clean(good):
    r = check(good)
    assert r.ok and r.kind == "gguf", r.to_dict()
    assert not [f for f in r.findings if f.severity != "info" and not _builtin_formatter(f)], r.to_dict()
    ids = r.by_check("special-token-ids")[0].message
    assert "tiktoken, hf, llama.cpp" in ids


def test_the_converter_layout_hides_think_from_llama_cpp(assets, tmp_path):
    """llama.cpp's converter types every special slot CONTROL; llama.cpp then drops </think> from plain output."""
    path = write_vocab_gguf(assets, tmp_path / "conv.gguf", chat_template=GOOD_TEMPLATE, control_all=True)
    r = check(path)
    keys = [f for f in r.by_check("gguf-tokenizer-keys") if f.severity == "warning"]
    assert keys and "</think>" in keys[0].message and "CONTROL" in keys[0].message
    ids = [f.message for f in r.by_check("special-token-ids") if f.severity == "error"]
    assert any(m.startswith("</think>") and "llama.cpp" in m and "''" in m for m in ids), ids
    assert not r.ok


def test_old_eos_names_the_id_to_set(assets, tmp_path):
    r = check(write_vocab_gguf(assets, tmp_path / "old.gguf", eos="[EOS]", chat_template=GOOD_TEMPLATE))
    (f,) = r.by_check("eos-token")
    assert f.severity == "error" and f"eos_token_id to {assets.n_ranks + 2}" in f.message


@pytest.mark.parametrize("key,value,severity,fragment", [
    ("tokenizer.ggml.pre", b"kimi-k3", "error", "'kimi-k3'"),
    ("tokenizer.ggml.add_bos_token", True, "warning", "prepends [BOS]"),
    ("tokenizer.ggml.bos_token_id", 4098, "error", "expected 4096"),
    ("tokenizer.ggml.padding_token_id", 0, "error", "expected 4351"),
])
def test_each_key_check_can_fail(good, tmp_path, key, value, severity, fragment):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(good.read_bytes())
    poke(bad, key, value)
    found = [f for f in check(bad).by_check("gguf-tokenizer-keys") if f.severity == severity]
    assert any(fragment in f.message for f in found), found


def test_token_type_check_can_fail(good, tmp_path, assets):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(good.read_bytes())
    r = gguf.GGUFReader(bad, "r+")
    field = r.get_field("tokenizer.ggml.token_type")
    field.parts[field.data[assets.n_ranks + 2]][0] = gguf.TokenType.USER_DEFINED  # <|im_end|>
    del r
    found = [f for f in check(bad).by_check("gguf-tokenizer-keys") if f.severity == "error"]
    assert found and "<|im_end|>" in found[0].message


def test_gguf_assets_are_the_folder_assets(assets, good):
    g = load(good)
    assert g.source == "gguf" and g.ranks == assets.ranks
    assert {i: (t.content, t.special) for i, t in g.specials.items()} == \
           {i: (t.content, t.special) for i, t in assets.specials.items()}
    assert g.eos == "<|im_end|>" and g.chat_template == GOOD_TEMPLATE
    text = "<|im_user|>user<|im_middle|>Hello 你好 1234567<|im_end|><think>hm</think>"
    assert g.encode(text, impl="llama.cpp") == g.encode(text) == g.encode(text, impl="hf") == assets.encode(text)
    with pytest.raises(InputError, match="llama.cpp reads GGUF"):
        assets.encode("x", impl="llama.cpp")


def test_a_later_split_points_to_split_one(tmp_path):
    path = tmp_path / "Kimi-K2-Q2_K-00002-of-00003.gguf"
    w = gguf.GGUFWriter(path, arch="deepseek2")
    w.add_uint16("split.no", 1)
    w.add_uint16("split.count", 3)
    finish(w)
    with pytest.raises(InputError, match="split 2 of 3 .*Kimi-K2-Q2_K-00001-of-00003.gguf"):
        load(path)
    with pytest.raises(InputError, match="split 2 of 3"):
        check(path)


def test_bad_gguf_files(tmp_path, good):
    empty = tmp_path / "empty.gguf"
    w = gguf.GGUFWriter(empty, arch="deepseek2")
    finish(w)
    with pytest.raises(InputError, match="no tokenizer metadata"):
        check(empty)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[:500])
    with pytest.raises(InputError, match="truncated GGUF header"):
        check(cut)
    with pytest.raises(InputError, match="no such file"):
        check(tmp_path / "missing.gguf")


def test_llama_cpp_stops_on_im_end_by_name_whatever_the_eos_key(assets, tmp_path):
    g = load(write_vocab_gguf(assets, tmp_path / "old.gguf", eos="[EOS]"))
    assert g.eos == "[EOS]" and "<|im_end|>" in g.end_of_generation() and "[BOS]" not in g.end_of_generation()
    rows = {r["content"]: r for r in g.special_rows()}
    assert rows["[EOS]"]["roles"] == ["eos"] and rows["</think>"]["type"] == "USER_DEFINED"
    assert not any(r["content"].startswith("<|reserved") for r in g.special_rows())
    assert len(g.special_rows(reserved=True)) == 256
