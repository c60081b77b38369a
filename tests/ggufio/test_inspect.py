"""inspect: every key and tensor from the headers, totals by type and role, split sets, bad files."""

from __future__ import annotations

import json

import pytest

from tests.helpers import sha
from workbench.errors import InputError
from workbench.ggufio.inspect import inspect, role_of


def test_a_file(model, assets):
    info = inspect(model)
    assert len(info.files) == 1 and info.files[0].version == 3 and info.files[0].alignment == 32
    assert [t.name for t in info.tensors][:2] == ["token_embd.weight", "blk.0.attn_q_a.weight"]
    types = info.by_type()
    assert set(types) == {"F16", "F32", "Q8_0"} and sum(types.values()) == info.tensor_bytes
    q8 = next(t for t in info.tensors if t.name == "blk.0.attn_q_a.weight")
    assert q8.type == "Q8_0" and q8.shape == (96, 64) and q8.n_bytes == 64 * 96 // 32 * 34
    assert info.by_role()["routed-experts"] == next(t.n_bytes for t in info.tensors if "exps" in t.name)
    tok = info.tokenizer()
    assert tok["pre"] == "kimi-k2" and tok["eos"] == {"id": assets.n_ranks + 1, "content": "[EOS]"}
    keys = info.keys
    assert keys["tokenizer.ggml.tokens"].length == assets.vocab_size and keys["tokenizer.ggml.tokens"].type == "array[string]"
    assert "(4,352 items)" in keys["tokenizer.ggml.tokens"].summary()
    json.dumps(info.to_dict())  # serialisable, arrays summarised
    assert len(info.to_dict()["keys"][-5]["head"] if "head" in info.to_dict()["keys"][-5] else []) <= 8


def test_a_split_set_from_any_member(split_set):
    for member in split_set:
        info = inspect(member)
        assert [f.path.name for f in info.files] == [p.name for p in split_set]
    assert info.key_file["tokenizer.chat_template"] == split_set[0].name
    assert {t.file for t in info.tensors} == {p.name for p in split_set} and len(info.tensors) == 4
    assert info.total_bytes == sum(p.stat().st_size for p in split_set)


def test_a_missing_member(split_set):
    split_set[1].unlink()
    with pytest.raises(InputError, match="split set incomplete, missing Kimi-K2-Fixture-Q8_0-00002-of-00002.gguf"):
        inspect(split_set[0])


@pytest.mark.parametrize("name,role", [
    ("blk.3.ffn_up_exps.weight", "routed-experts"), ("blk.3.ffn_down_shexp.weight", "shared-experts"),
    ("blk.3.ffn_gate_inp.weight", "router"), ("blk.3.exp_probs_b.bias", "router"),
    ("blk.3.attn_kv_a_norm.weight", "norm"), ("blk.3.attn_k_b.weight", "attention"),
    ("blk.0.ffn_down.weight", "dense-ffn"), ("token_embd.weight", "embeddings"), ("output.weight", "output"),
    ("output_norm.weight", "norm"),
])
def test_roles(name, role):
    assert role_of(name) == role


def test_bad_files(model, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGML" + model.read_bytes()[4:])
    with pytest.raises(InputError, match="not a GGUF file \\(magic b'GGML'"):
        inspect(bad)
    bad.write_bytes(model.read_bytes()[:300])
    with pytest.raises(InputError, match="truncated GGUF header"):
        inspect(bad)
    data = model.read_bytes()
    bad.write_bytes(data[:-1000])
    with pytest.raises(InputError, match="truncated tensor data"):
        inspect(bad)
    bad.write_bytes(data[:4] + (9).to_bytes(4, "little") + data[8:])
    with pytest.raises(InputError, match="unsupported GGUF \\(version 9\\)"):
        inspect(bad)
    with pytest.raises(InputError, match="no such file"):
        inspect(tmp_path / "absent.gguf")
    before = sha(model)
    inspect(model)
    assert sha(model) == before


def test_the_header_index_agrees_with_gguf_reader(model, split_set):
    """The fast index and gguf-py's reader see the same keys, values, offsets and tensors."""
    import gguf

    from workbench.gguffile import read_header

    for path in [model, *split_set]:
        h, r = read_header(path), gguf.GGUFReader(path)
        assert (h.data_offset, h.alignment) == (int(r.data_offset), int(r.alignment))
        names = [n for n in r.fields if not n.startswith("GGUF.")]
        assert list(h.fields) == names
        for name in names:
            f, mine = r.fields[name], h.fields[name]
            got = h.array(name) if mine.count is not None else mine.value
            assert got == f.contents() or abs(got - f.contents()) < 1e-9, name
            assert mine.offset >= int(f.offset)
        assert [(t.name, h.data_offset + t.rel_offset, t.n_bytes, t.type) for t in h.tensors] == \
            [(t.name, int(t.data_offset), int(t.n_bytes), int(t.tensor_type)) for t in r.tensors]
