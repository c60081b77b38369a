"""Shared fixtures: the repository layout and the reference assets beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
REFERENCE = ROOT.parent / "shared" / "reference"


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
    from workbench.ggufio.tiny import make_tiny_model
    from workbench.tokenizer import load

    return make_tiny_model(tmp_path_factory.mktemp("model") / "Kimi-K2-Tiny.gguf", vocab=load(tiny_vocab))[0]


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    """The real llama-server that `make test` builds (from the pinned llama-cpp-python sources)."""
    from workbench.run import llama_server

    found = llama_server.find()
    if found is None:
        pytest.fail("no llama-server binary; `make test` builds one (kimi-wb build-llama-server)")
    return found
