"""Shared fixtures: the corpus, a tiny vocabulary and model built once per session, the llama-server binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import CORPUS, tensors, write_gguf

pytest_plugins = ["pytester"]  # the pytest plugin's tests run pytest inside pytest


@pytest.fixture(scope="session")
def corpus_files() -> list[Path]:
    files = sorted(CORPUS.glob("*.txt"))
    assert files, f"no corpus files in {CORPUS}"
    return files


@pytest.fixture(scope="session")
def corpus_text(corpus_files) -> str:
    return "".join(f.read_text(encoding="utf-8") for f in corpus_files)


@pytest.fixture(scope="session")
def tiny_vocab(tmp_path_factory) -> Path:
    """A Kimi-layout vocabulary folder trained on data/corpus (built once per session)."""
    from workbench.tokenizer import build_vocab

    return build_vocab(tmp_path_factory.mktemp("vocab") / "kimi-tiny")


@pytest.fixture(scope="session")
def tiny_model(tiny_vocab, tmp_path_factory) -> Path:
    """The tiny Kimi-architecture GGUF (fixed metadata) on that vocabulary, built once; tests only read it."""
    from workbench.models.tiny import make_tiny_model
    from workbench.tokenizer import load

    return make_tiny_model(tmp_path_factory.mktemp("model") / "Kimi-K2-Tiny.gguf", vocab=load(tiny_vocab))[0]


@pytest.fixture(scope="session")
def demo_model(tiny_vocab, tmp_path_factory) -> Path:
    """The demo model (hybrid template, sampling script) on that vocabulary, built once in a folder of its own."""
    from workbench.models.demo import make_demo_model
    from workbench.tokenizer import load

    return make_demo_model(tmp_path_factory.mktemp("demo") / "Kimi-K2-Demo.gguf", vocab=load(tiny_vocab))[0]


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    """The real llama-server that `make test` builds (from the pinned llama-cpp-python sources)."""
    from workbench.run import llama_server

    found = llama_server.find()
    if found is None:
        pytest.fail("no llama-server binary; `make test` builds one (kimi-wb build-llama-server)")
    return found


@pytest.fixture
def aborting_model(tiny_model, tmp_path) -> Path:
    """The tiny model with one token spelled like another: llama.cpp's vocabulary loader aborts on it
    (``GGML_ASSERT(id_to_token.size() == token_to_id.size())``, src/llama-vocab.cpp) instead of reporting."""
    from workbench.gguffile import read_header

    path = tmp_path / "Kimi-K2-Duplicate-Token.gguf"
    data = bytearray(tiny_model.read_bytes())
    h = read_header(tiny_model)
    tokens = h.strings("tokenizer.ggml.tokens")
    field = h.fields["tokenizer.ggml.tokens"]
    a = next(i for i in range(300, len(tokens)) if len(tokens[i].encode()) == len(tokens[i + 1].encode()))
    start = int(field.item_offsets[a + 1]) + 8
    data[start:start + len(tokens[a].encode())] = tokens[a].encode()  # token a+1 now reads as token a
    path.write_bytes(bytes(data))
    return path


# GGUF fixtures: a small model-shaped file with tensors of several types, and a two-file split set


@pytest.fixture(scope="session")
def assets(tiny_vocab):
    from workbench.tokenizer import load

    return load(tiny_vocab)


@pytest.fixture
def model(assets, tmp_path) -> Path:
    names = ["token_embd.weight", "blk.0.attn_q_a.weight", "blk.0.ffn_up_exps.weight", "blk.0.ffn_gate_shexp.weight",
             "blk.0.attn_norm.weight", "output.weight"]
    return write_gguf(tmp_path / "old-model.gguf", assets, tensors=tensors(0, names))


@pytest.fixture
def split_set(assets, tmp_path) -> list[Path]:
    first = tmp_path / "Kimi-K2-Fixture-Q8_0-00001-of-00002.gguf"
    second = tmp_path / "Kimi-K2-Fixture-Q8_0-00002-of-00002.gguf"
    write_gguf(first, assets, tensors=tensors(1, ["token_embd.weight", "blk.0.attn_q_a.weight"]), split=(0, 2))
    write_gguf(second, assets, tensors=tensors(2, ["blk.0.ffn_up_exps.weight", "output.weight"]), split=(1, 2),
               tokenizer=False)
    return [first, second]
