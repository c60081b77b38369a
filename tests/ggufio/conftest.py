"""GGUF fixtures: a small model-shaped file with tensors of several types, and a two-file split set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import gguf
import numpy as np
import pytest

from workbench.tokenizer import load
from workbench.tokenizer.gguf_vocab import add_minimal_hparams, add_tokenizer

TEMPLATE = (Path(__file__).resolve().parents[2] / "workbench" / "chat" / "templates" / "kimi-k2.jinja").read_text()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_gguf(path: Path, assets, *, tensors: dict, eos: str = "[EOS]", split: tuple[int, int] | None = None,
               tokenizer: bool = True) -> Path:
    """A GGUF with the Kimi tokenizer keys (old EOS by default) and the given numpy tensors."""
    w = gguf.GGUFWriter(path, arch="deepseek2")
    w.add_name("fixture")
    add_minimal_hparams(w, assets.vocab_size, context_length=4096)
    if split:
        w.add_uint16("split.no", split[0])
        w.add_uint16("split.count", split[1])
        w.add_int32("split.tensors.count", 4)
    if tokenizer:
        add_tokenizer(w, assets, eos=eos, chat_template=TEMPLATE)
    for name, (array, qtype) in tensors.items():
        if qtype is None:
            w.add_tensor(name, array)
        else:
            w.add_tensor(name, gguf.quants.quantize(array, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def tensors(seed: int, names: list[str]) -> dict:
    rng = np.random.default_rng(seed)
    kinds = [None, gguf.GGMLQuantizationType.Q8_0, None, gguf.GGMLQuantizationType.Q8_0]
    out = {}
    for i, name in enumerate(names):
        array = rng.standard_normal((64, 96 if i % 2 else 64)).astype(np.float32 if i % 3 else np.float16)
        if kinds[i % 4] is not None:
            array = array.astype(np.float32)
        out[name] = (array, kinds[i % 4])
    return out


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
