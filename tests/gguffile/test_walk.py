"""The header walk refuses each kind of bad field by name and byte offset, before allocating anything."""

from __future__ import annotations

import pytest

from tests.helpers import tensors, write_gguf
from workbench.errors import InputError
from workbench.gguffile import read_header
from workbench.gguffile.bpe import finish
from workbench.ggufio.mutate import slots
from workbench.tokenizer import load


def edited(model, tmp_path, **values):
    """A copy of ``model`` with named layout integers (``slots`` names, spaces as ``_``) set."""
    data = bytearray(model.read_bytes())
    table = {s.what.replace(" ", "_"): s for s in slots(bytes(data))[0]}
    for what, value in values.items():
        s = table[what]
        data[s.offset:s.offset + s.width] = (value % (1 << 8 * s.width)).to_bytes(s.width, "little")
    out = tmp_path / "edited.gguf"
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("values,message", [
    ({"tokenizer.ggml.tokens_count": 2**32 - 1},
     r"corrupt count: tokenizer\.ggml\.tokens count 4,294,967,295 at byte [\d,]+ needs at least 34,359,738,360 bytes"),
    ({"key_count": 10**12}, r"corrupt counts: 1,000,000,000,000 keys \(byte 16\)"),
    ({"general.name_string_length": 2**60}, r"corrupt length: general\.name value at byte [\d,]+ claims "
                                            r"1,152,921,504,606,846,976 bytes"),
    ({"general.name_value_type": 99}, r"key general\.name has unknown value type 99 at byte"),
    ({"tokenizer.ggml.token_type_item_type": 9}, r"key tokenizer\.ggml\.token_type \(item type at byte [\d,]+\) is an "
                                                  r"array of arrays"),
    ({"tokenizer.ggml.token_type_item_type": 77}, r"tokenizer\.ggml\.token_type has unknown item type 77"),
    ({"output.weight_dims": 5}, r"tensor output\.weight has 5 dims at byte [\d,]+ \(at most 4\)"),
    ({"output.weight_dim_0": 2**62, "output.weight_dim_1": 4}, r"tensor output\.weight has dims .* whose product does "
                                                               r"not fit in 64 bits"),
    ({"output.weight_type": 99}, r"tensor output\.weight has unknown type 99 \(byte"),
    ({"output.weight_offset": 7}, r"tensor output\.weight has offset 7 at byte [\d,]+, not a multiple of the alignment 32"),
    ({"token_embd.weight_offset": 2**40}, r"tensor token_embd\.weight ends at byte .*truncated tensor data"),
], ids=["array-count", "key-count", "string-length", "value-type", "nested-array", "item-type", "n-dims",
        "dims-overflow", "tensor-type", "unaligned", "offset-outside"])
def test_each_bad_field_is_named(model, tmp_path, values, message):
    with pytest.raises(InputError, match=message) as e:
        read_header(edited(model, tmp_path, **values))
    assert "\n" not in str(e.value)


def test_the_alignment_must_be_a_power_of_two(assets, tmp_path):
    import gguf

    path = tmp_path / "aligned.gguf"
    w = gguf.GGUFWriter(path, arch="deepseek2")
    w.add_custom_alignment(64)
    for name, (array, _) in tensors(3, ["output.weight"]).items():
        w.add_tensor(name, array)
    finish(w)
    assert read_header(path).alignment == 64
    with pytest.raises(InputError, match=r"general\.alignment is 48 \(byte [\d,]+\), not a power of two"):
        read_header(edited(path, tmp_path, **{"general.alignment_value": 48}))


def test_duplicates_and_undecodable_names(model, tmp_path):
    data = model.read_bytes()
    bos, eos = b"tokenizer.ggml.bos_token_id", b"tokenizer.ggml.eos_token_id"
    path = tmp_path / "named.gguf"
    path.write_bytes(data.replace(eos, bos, 1))  # two keys of one name
    with pytest.raises(InputError, match=r"duplicate key tokenizer\.ggml\.bos_token_id at byte"):
        read_header(path)
    path.write_bytes(data.replace(bos, b"\xff" + bos[1:], 1))
    with pytest.raises(InputError, match=r"key \d+ name at byte [\d,]+ is not UTF-8"):
        read_header(path)


def test_a_name_with_a_line_break_is_shown_escaped(model, tmp_path):
    s = {s.what: s for s in slots(model.read_bytes())[0]}["general.name value type"]
    data = bytearray(model.read_bytes())
    data[s.offset:s.offset + 4] = (99).to_bytes(4, "little")  # an error that names the key
    path = tmp_path / "newline.gguf"
    path.write_bytes(bytes(data).replace(b"general.name", b"general\nname", 1))
    with pytest.raises(InputError, match=r"key 'general\\nname' has unknown value type 99") as e:
        read_header(path)
    assert "\n" not in str(e.value)


@pytest.fixture
def vocab_model(tiny_vocab, tmp_path):
    return write_gguf(tmp_path / "typed.gguf", load(tiny_vocab), tensors={})


def test_interpreted_keys_are_read_typed(vocab_model, tmp_path):
    from workbench.verify import check

    retyped = edited(vocab_model, tmp_path, **{"tokenizer.ggml.token_type_item_type": 6})  # int32 -> float32
    with pytest.raises(InputError, match=r"tokenizer\.ggml\.token_type is array\[float32\], expected an array of "
                                         r"integers"):
        check(retyped)
