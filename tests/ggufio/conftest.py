"""GGUF fixtures: a small model-shaped file with tensors of several types, and a two-file split set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import tensors, write_gguf
from workbench.tokenizer import load


@pytest.fixture(scope="session")
def assets(tiny_vocab):
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
