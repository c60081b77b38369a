"""The tiny Kimi K2-architecture model: llama.cpp loads it (one file or a split set) and generates on CPU."""

from __future__ import annotations

import dataclasses
import itertools

import gguf
import numpy as np
import pytest

from workbench.errors import InputError
from workbench.models.recipes import keeps_f32
from workbench.models.shape import tensor_table, tiny
from workbench.models.tiny import make_tiny_model, partition
from workbench.tokenizer import load


@pytest.fixture(scope="module")
def assets(tiny_vocab):
    return load(tiny_vocab)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny")


@pytest.fixture(scope="module")
def single(assets, folder):
    return make_tiny_model(folder / "Kimi-K2-Tiny.gguf", vocab=assets)


@pytest.fixture(scope="module")
def split_set(assets, folder):
    return make_tiny_model(folder / "Kimi-K2-Tiny.gguf", split=3, vocab=assets)


@pytest.fixture(scope="module")
def old(assets, folder):
    return make_tiny_model(folder / "Kimi-K2-Tiny-old.gguf", old=True, vocab=assets)


def _llama(path):
    import llama_cpp

    # one thread: the sums run in one order, so greedy picks between near-equal random logits repeat exactly
    return llama_cpp.Llama(str(path), n_ctx=256, n_gpu_layers=0, n_threads=1, n_threads_batch=1, verbose=False)


def _field(reader, key):
    f = reader.get_field(key)
    return f.contents() if f is not None else None


def test_single_file_is_small_and_complete(single, assets):
    assert [p.name for p in single] == ["Kimi-K2-Tiny.gguf"]
    assert single[0].stat().st_size < 4 << 20
    r = gguf.GGUFReader(single[0])
    table = tensor_table(tiny(vocab=assets.vocab_size))
    assert [t.name for t in r.tensors] == [t.name for t in table]
    assert [tuple(int(d) for d in t.shape[::-1]) for t in r.tensors] == [t.shape for t in table]
    assert _field(r, "general.architecture") == "deepseek2" and _field(r, "split.count") is None
    assert _field(r, "deepseek2.attention.key_length_mla") == 32 and _field(r, "deepseek2.expert_gating_func") == 2
    types = {t.name: t.tensor_type for t in r.tensors}
    f32 = {n for n, q in types.items() if q == gguf.GGMLQuantizationType.F32}
    assert {"blk.1.ffn_norm.weight", "blk.1.exp_probs_b.bias", "blk.1.ffn_gate_inp.weight"} <= f32
    assert f32 == {t.name for t in table if keeps_f32(t)}
    assert types["blk.1.ffn_up_exps.weight"] == types["token_embd.weight"] == gguf.GGMLQuantizationType.F16


@pytest.mark.parametrize("which", ["single", "split_set"])
def test_llama_cpp_loads_and_generates_deterministically(which, request, assets):
    first = request.getfixturevalue(which)[0]
    llm = _llama(first)
    assert llm.n_vocab() == assets.vocab_size
    assert llm.token_eos() == assets.special_id("<|im_end|>")
    assert llm.metadata["general.architecture"] == "deepseek2" and llm.metadata["tokenizer.ggml.pre"] == "kimi-k2"
    prompt = llm.tokenize(b"<|im_user|>user<|im_middle|>Hello<|im_end|><|im_assistant|>assistant<|im_middle|>",
                          add_bos=False, special=True)
    llm.eval(prompt)
    # the logits after the prompt, from llama.cpp itself (llama-cpp-python keeps `scores` only with logits_all)
    import llama_cpp

    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
    assert np.isfinite(logits).all() and logits.std() > 0
    runs = []
    for _ in range(2):
        llm.reset()
        runs.append(list(itertools.islice(llm.generate(prompt, temp=0.0), 6)))  # greedy, EOG or not
    assert runs[0] == runs[1] and len(runs[0]) == 6
    assert all(0 <= t < assets.vocab_size for t in runs[0])


def test_split_set_is_named_and_keyed_like_the_real_ones(split_set, single):
    assert [p.name for p in split_set] == [f"Kimi-K2-Tiny-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    readers = [gguf.GGUFReader(p) for p in split_set]
    whole = gguf.GGUFReader(single[0])
    assert [_field(r, "split.no") for r in readers] == [0, 1, 2]
    assert {_field(r, "split.count") for r in readers} == {3}
    assert {_field(r, "split.tensors.count") for r in readers} == {len(whole.tensors)}
    assert [_field(r, "tokenizer.chat_template") is not None for r in readers] == [True, False, False]
    assert [_field(r, "tokenizer.ggml.tokens") is not None for r in readers] == [True, False, False]
    assert all(len(r.tensors) > 0 for r in readers)
    parts = {t.name: np.asarray(t.data) for r in readers for t in r.tensors}
    assert list(parts) == [t.name for t in whole.tensors]
    assert all(np.array_equal(parts[t.name], np.asarray(t.data)) for t in whole.tensors)  # same seed, same weights


def test_same_arguments_same_bytes(single, assets, tmp_path):
    again = make_tiny_model(tmp_path / "Kimi-K2-Tiny.gguf", vocab=assets)
    assert again[0].read_bytes() == single[0].read_bytes()
    other = make_tiny_model(tmp_path / "seed1.gguf", vocab=assets, seed=1)
    assert other[0].read_bytes() != single[0].read_bytes()


def test_default_vocabulary_is_the_trained_kimi_layout_one(single, tmp_path):
    """vocab=None trains build_vocab's vocabulary in a temporary folder: deterministic, so the same bytes."""
    assert make_tiny_model(tmp_path / "Kimi-K2-Tiny.gguf")[0].read_bytes() == single[0].read_bytes()


def test_old_file_has_the_old_eos_and_template(old, assets):
    llm = _llama(old[0])
    assert llm.token_eos() == assets.special_id("[EOS]")
    template = llm.metadata["tokenizer.chat_template"]
    assert "You are a helpful assistant<|im_end|>" in template and "You are Kimi" not in template


@pytest.mark.parametrize("kwargs, message", [
    ({"layers": 1}, "layers=1"),
    ({"experts": 4, "experts_used": 5}, "experts_used=5"),
    ({"split": 0}, "split=0"),
    ({"split": 10_000}, "split=10000"),
], ids=["layers<2", "used>experts", "split<1", "split>tensors"])
def test_bad_arguments(kwargs, message, assets, tmp_path):
    with pytest.raises(InputError, match=message):
        make_tiny_model(tmp_path / "x.gguf", vocab=assets, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_bad_output_name(assets, tmp_path):
    with pytest.raises(InputError, match="must end in .gguf"):
        make_tiny_model(tmp_path / "x.bin", vocab=assets)
    with pytest.raises(InputError, match="no such folder"):
        make_tiny_model(tmp_path / "absent" / "x.gguf", vocab=assets)


def test_a_failed_write_leaves_nothing(assets, tmp_path):
    """The tokenizer step fails after the writer started (no [PAD]): no file, no staging folder remains."""
    broken = dataclasses.replace(assets, specials={i: t for i, t in assets.specials.items() if t.content != "[PAD]"})
    with pytest.raises(InputError, match=r"\[PAD\]"):
        make_tiny_model(tmp_path / "Kimi-K2-Tiny.gguf", split=2, vocab=broken)
    assert list(tmp_path.iterdir()) == []


def test_partition_balances_contiguous_groups():
    assert partition([4, 4, 4, 4], 2) == [0, 2]
    assert partition([9, 1, 1], 3) == [0, 1, 2]
    assert partition([1, 1, 1, 1, 1, 100], 3) == [0, 4, 5]
    with pytest.raises(InputError, match="between 1 and the number of tensors"):
        partition([1, 2], 3)
