"""Real-scale Kimi K2 files with a sparse hole for data: real header, real size, a few MB of disk.

gguf's reader and llama.cpp are the judges: the reader maps every tensor inside the file, and
llama.cpp's deepseek2 loader (``no_alloc``: every tensor created with its checked shape,
nothing allocated) accepts the whole real-scale table. Reading the 163,840-token tokenizer
with ``GGUFReader`` takes ~10 s, so each file is read once per module.
"""

from __future__ import annotations

import dataclasses
import os

import gguf
import pytest

from workbench.errors import InputError
from workbench.gguffile.bpe import merge_of
from workbench.models.recipes import typed_table
from workbench.models.shape import KIMI_K2, parameter_count
from workbench.models.sparse import allocated_bytes, sparse_supported, synthetic_ranks, write_kimi_shaped

NAME = "Kimi-K2-Instruct-UD-Q2_K_XL.gguf"
TOTAL = sum(b for _, _, b in typed_table(KIMI_K2, "UD-Q2_K_XL"))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return write_kimi_shaped(tmp_path_factory.mktemp("single") / NAME)


@pytest.fixture(scope="module")
def reader(single):
    return gguf.GGUFReader(single[0])


@pytest.fixture(scope="module")
def split_set(tmp_path_factory):
    return write_kimi_shaped(tmp_path_factory.mktemp("split") / NAME, split=8)


def _field(reader, key):
    f = reader.get_field(key)
    return f.contents() if f is not None else None


def _no_alloc_load(path):
    """(n_params, bytes, n_layer) from llama.cpp's full model loader, allocating no tensor memory."""
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    params = llama_cpp.llama_model_default_params()
    params.no_alloc = True
    params.load_mode = llama_cpp.LLAMA_LOAD_MODE_NONE  # no_alloc asserts on mmap'ed loads
    params.n_gpu_layers = 0
    with suppress_stdout_stderr(disable=False):
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    assert model, f"llama.cpp refused {path}"
    try:
        return (llama_cpp.llama_model_n_params(model), llama_cpp.llama_model_size(model),
                llama_cpp.llama_model_n_layer(model))
    finally:
        llama_cpp.llama_model_free(model)


def test_the_filesystem_keeps_sparse_files(tmp_path):
    assert sparse_supported(tmp_path), f"{tmp_path}: this filesystem allocates truncate holes; sparse files cannot work"


def test_real_size_on_a_few_megabytes(single):
    path = single[0]
    assert [p.name for p in single] == [NAME]
    assert path.stat().st_size >= 300e9
    assert path.stat().st_size > TOTAL
    assert allocated_bytes(path) < 64 << 20, (
        f"{path}: {allocated_bytes(path):,} bytes allocated for {path.stat().st_size:,} apparent: "
        "the filesystem did not keep the tensor data as a sparse hole")


def test_reader_maps_every_tensor_inside_the_file(single, reader):
    size = single[0].stat().st_size
    rows = typed_table(KIMI_K2, "UD-Q2_K_XL")
    assert [t.name for t in reader.tensors] == [s.name for s, _, _ in rows]
    for t, (spec, qtype, nbytes) in zip(reader.tensors, rows):
        assert t.data_offset + t.n_bytes <= size, t.name
        assert (t.tensor_type, int(t.n_bytes), tuple(int(d) for d in t.shape[::-1])) == (qtype, nbytes, spec.shape)
    assert sum(int(t.n_bytes) for t in reader.tensors) == TOTAL


def test_header_carries_keys_and_a_real_size_tokenizer(reader):
    assert _field(reader, "general.architecture") == "deepseek2"
    assert _field(reader, "general.file_type") == gguf.LlamaFileType.MOSTLY_Q2_K
    assert _field(reader, "deepseek2.block_count") == 61 and _field(reader, "deepseek2.expert_count") == 384
    assert _field(reader, "deepseek2.vocab_size") == 163_840
    assert len(reader.get_field("tokenizer.ggml.tokens").data) == 163_840
    assert len(reader.get_field("tokenizer.ggml.merges").data) == 163_584 - 256
    assert _field(reader, "tokenizer.ggml.eos_token_id") == 163_586
    assert "You are Kimi" in _field(reader, "tokenizer.chat_template")


def test_llama_cpp_reads_the_vocabulary(single):
    import llama_cpp

    llm = llama_cpp.Llama(str(single[0]), vocab_only=True, verbose=False)
    assert llm.n_vocab() == 163_840
    assert llm.token_eos() == 163_586
    assert llm.metadata["tokenizer.ggml.pre"] == "kimi-k2"


def test_llama_cpp_loader_accepts_the_whole_real_scale_table(single):
    """Every tensor created with the shape deepseek2.cpp asks for, none missing or extra (else it throws)."""
    assert _no_alloc_load(single[0]) == (parameter_count(KIMI_K2), TOTAL, 61)


def test_split_set_like_the_published_one(split_set, reader):
    assert [p.name for p in split_set] == [f"Kimi-K2-Instruct-UD-Q2_K_XL-0000{i}-of-00008.gguf" for i in range(1, 9)]
    assert all(p.stat().st_size < 60e9 for p in split_set)
    assert sum(allocated_bytes(p) for p in split_set) < 64 << 20
    readers = [gguf.GGUFReader(p) for p in split_set]
    assert [_field(r, "split.no") for r in readers] == list(range(8))
    assert {_field(r, "split.count") for r in readers} == {8}
    assert [_field(r, "tokenizer.ggml.tokens") is not None for r in readers] == [True] + [False] * 7
    names = [t.name for r in readers for t in r.tensors]
    assert names == [t.name for t in reader.tensors]
    assert sum(int(t.n_bytes) for r in readers for t in r.tensors) == TOTAL
    for p, r in zip(split_set, readers):
        assert all(t.data_offset + t.n_bytes <= p.stat().st_size for t in r.tensors)
    assert _no_alloc_load(split_set[0]) == (parameter_count(KIMI_K2), TOTAL, 61)


def test_old_file_and_another_recipe(tmp_path):
    import llama_cpp

    files = write_kimi_shaped(tmp_path / "Kimi-K2-Instruct-UD-TQ1_0.gguf", recipe="UD-TQ1_0", old=True)
    llm = llama_cpp.Llama(str(files[0]), vocab_only=True, verbose=False)
    assert llm.token_eos() == 163_585  # [EOS], as pre-fix conversions set it
    assert "You are a helpful assistant" in llm.metadata["tokenizer.chat_template"]
    expected = sum(b for _, _, b in typed_table(KIMI_K2, "UD-TQ1_0"))
    assert _no_alloc_load(files[0])[1] == expected < TOTAL


def test_smaller_shape_with_its_own_vocabulary(tmp_path):
    shape = dataclasses.replace(KIMI_K2, blocks=2, vocab=1256)
    files = write_kimi_shaped(tmp_path / "two-blocks.gguf", recipe="Q8_0", shape=shape)
    assert _no_alloc_load(files[0]) == (parameter_count(shape), sum(b for _, _, b in typed_table(shape, "Q8_0")), 2)


def test_synthetic_ranks_are_merges_of_lower_ranks():
    ranks = synthetic_ranks()
    assert len(ranks) == 163_584 and sorted(ranks.values()) == list(range(163_584))
    assert all(ranks[bytes([b])] == b for b in range(256))
    assert {len(t) for t in ranks} == {1, 2, 3}
    for token in list(ranks)[256::997]:
        left, right = merge_of(token, ranks)
        assert left + right == token and ranks[left] < ranks[token] and ranks[right] < ranks[token]


@pytest.mark.parametrize("kwargs, message", [
    ({"recipe": "Q3"}, "unknown recipe 'Q3'"),
    ({"split": 0}, "split=0"),
    ({"split": 5000}, "split=5000"),
    ({"shape": dataclasses.replace(KIMI_K2, vocab=200)}, "must exceed the 256 special ids"),
], ids=["recipe", "split<1", "split>tensors", "vocab"])
def test_bad_arguments(kwargs, message, tmp_path):
    with pytest.raises(InputError, match=message):
        write_kimi_shaped(tmp_path / NAME, **kwargs)
    assert os.listdir(tmp_path) == []


def test_vocabulary_must_fit_the_embedding(tmp_path, tiny_vocab):
    from workbench.tokenizer import load

    with pytest.raises(InputError, match="4352 tokens, but the shape's token_embd has 163840 rows"):
        write_kimi_shaped(tmp_path / NAME, vocab=load(tiny_vocab))
