"""Values and small builders the tests share: the repository's paths, the reference assets, GGUF fixture files.

Test modules import these from here; conftest files hold only fixtures.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import gguf
import numpy as np

from workbench.gguffile.bpe import add_minimal_hparams, finish
from workbench.tokenizer.gguf_vocab import add_tokenizer

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
REFERENCE = ROOT.parent / "shared" / "reference"
TEMPLATE = (ROOT / "workbench" / "chat" / "templates" / "kimi-k2.jinja").read_text()


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
    finish(w)
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
