"""Fixtures the tokenizer tests share: the session vocabulary loaded, and written as a vocab-only GGUF."""

from __future__ import annotations

import pytest

from workbench.tokenizer import load
from workbench.tokenizer.gguf_vocab import write_vocab_gguf


@pytest.fixture(scope="module")
def assets(tiny_vocab):
    return load(tiny_vocab)


@pytest.fixture(scope="module")
def vocab_gguf(assets, tmp_path_factory):
    return write_vocab_gguf(assets, tmp_path_factory.mktemp("gguf") / "vocab.gguf")
