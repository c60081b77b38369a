"""A tiny Kimi K2-architecture GGUF that llama.cpp loads and runs on CPU, and the writer it shares.

:func:`make_tiny_model` builds a ``deepseek2`` file from :func:`workbench.models.shape.tiny`
through the same tensor table and keys as the real model: block 0 dense, MLA attention with
``attn_k_b`` / ``attn_v_b``, a router with ``exp_probs_b``, routed and shared experts, sigmoid
gating. Weights are seeded random numbers (F32 for norms, biases and the router, as
conversions keep them; F16 for every matrix). The tokenizer is a Kimi-layout vocabulary
(``workbench.tokenizer.train.build_vocab`` by default) with the bundled ``kimi-k2`` template;
``old=True`` writes a pre-fix file (EOS ``[EOS]``, template ``kimi-k2-old`` whose default
system prompt is "You are a helpful assistant", every special slot typed CONTROL as llama.cpp's
converter does, so ``</think>`` vanishes from plain detokenization); the default file is the
fixed state ``fix_kimi`` produces.

    >>> files = make_tiny_model("artifacts/Kimi-K2-Tiny.gguf", split=3)       # doctest: +SKIP
    >>> [f.name for f in files]                                              # doctest: +SKIP
    ['Kimi-K2-Tiny-00001-of-00003.gguf', 'Kimi-K2-Tiny-00002-of-00003.gguf', 'Kimi-K2-Tiny-00003-of-00003.gguf']

:func:`write_shaped` is the writer behind it and :func:`workbench.models.sparse.write_kimi_shaped`:
general keys, ``deepseek2.*`` keys, tokenizer and template in split 1 (later splits carry only
``split.*``, as ``llama-gguf-split`` writes them), tensors cut into ``split`` files of similar
size named ``<stem>-0000K-of-0000N.gguf`` (llama.cpp's ``llama_split_path``), then either the
tensor data or a hole. The files are written in a hidden staging folder beside the target and
renamed into place, later splits first and split 1 last, so a reader that opens split 1 finds
a complete set. Same arguments, same bytes.

Not here: real weights or quantization (every matrix is F16), multimodal towers, MTP layers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from itertools import accumulate
from pathlib import Path

import gguf
import numpy as np

from workbench.errors import InputError
from workbench.gguffile.splits import split_name
from workbench.models.recipes import keeps_f32
from workbench.models.shape import ARCH, KimiShape, TensorSpec, add_metadata, tensor_table, tiny
from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.gguf_vocab import add_tokenizer
from workbench.tokenizer.special import EOS, EOS_OLD

#: one planned tensor: spec, stored type, bytes, data (None: leave a hole)
Planned = tuple[TensorSpec, gguf.GGMLQuantizationType, int, "np.ndarray | None"]


def partition(sizes: Sequence[int], parts: int) -> list[int]:
    """Start index of each of ``parts`` contiguous, non-empty groups of similar total size.

    ``([4, 4, 4, 4], 2) -> [0, 2]``; ``([9, 1, 1], 3) -> [0, 1, 2]``.
    """
    if not 1 <= parts <= len(sizes):
        raise InputError(f"split={parts}: must be between 1 and the number of tensors ({len(sizes)})")
    cum = list(accumulate(sizes, initial=0))  # cum[j]: bytes before tensor j
    starts = [0]
    for k in range(1, parts):
        lo, hi = starts[-1] + 1, len(sizes) - (parts - k)  # non-empty, and room for the groups after it
        target = cum[-1] * k / parts
        j = bisect_left(cum, target, lo, hi + 1)
        starts.append(min((c for c in (j - 1, j) if lo <= c <= hi), key=lambda c: abs(cum[c] - target)))
    return starts


@contextmanager
def _staging(folder: Path, stem: str) -> Iterator[Path]:
    """A hidden folder beside the targets, removed afterwards whatever happens."""
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{stem}."))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _commit(staged: list[Path], folder: Path) -> list[Path]:
    """fsync the staged files and rename them into ``folder``, split 1 last; undo the renames on failure."""
    for f in staged:
        with open(f, "rb+") as fh:
            os.fsync(fh.fileno())
    done: list[Path] = []
    try:
        for f in reversed(staged):
            target = folder / f.name
            os.replace(f, target)
            done.append(target)
    except BaseException:
        for target in done:
            target.unlink(missing_ok=True)
        raise
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return [folder / f.name for f in staged]


def check_target(out: str | os.PathLike[str]) -> Path:
    """``out`` as a Path, or an :class:`InputError` when it is not ``*.gguf`` in an existing folder."""
    p = Path(out)
    if p.suffix != ".gguf":
        raise InputError(f"{p}: the output name must end in .gguf")
    if not p.parent.is_dir():
        raise InputError(f"{p.parent}: no such folder")
    return p


def write_shaped(out: str | os.PathLike[str], shape: KimiShape, tensors: Sequence[Planned], *,
                 assets: TokenizerAssets, eos: str, chat_template: str, file_type: gguf.LlamaFileType,
                 split: int | None = None, control_all: bool = True,
                 metadata: dict[str, str] | None = None) -> list[Path]:
    """Write a Kimi-shaped ``deepseek2`` GGUF (or split set) atomically; returns its files, split 1 first.

    Each planned tensor carries its data, or None to leave its bytes a hole (the file is
    extended with ``truncate``; on a filesystem with sparse files nothing is allocated).
    ``control_all`` types every special slot CONTROL as llama.cpp's converter does; False types
    ``<think>``, ``</think>`` and the tool markers USER_DEFINED (what ``fix_kimi`` repairs to).
    ``metadata`` adds string keys to split 1 (the demo model's script, :mod:`workbench.models.demo`).
    """
    target = check_target(out)
    holes = [t[3] is None for t in tensors]
    if any(holes) and not all(holes):
        raise ValueError("write_shaped: either every tensor has data or none has")
    align = gguf.GGUF_DEFAULT_ALIGNMENT
    starts = set(partition([gguf.GGUFWriter.ggml_pad(t[2], align) for t in tensors], split or 1)[1:])
    with _staging(target.parent, target.stem) as tmp:
        path = tmp / (split_name(target, 1, 1).name if split == 1 else target.name)
        w = gguf.GGUFWriter(path, arch=ARCH)
        w.add_name(shape.name)
        w.add_file_type(file_type)
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        add_metadata(w, shape)
        add_tokenizer(w, assets, eos=eos, chat_template=chat_template, control_all=control_all)
        for key, value in (metadata or {}).items():
            w.add_string(key, value)
        for i, (spec, qtype, nbytes, data) in enumerate(tensors):
            w.split_max_tensors = 1 if i in starts else 0  # 1: the writer opens the next split here
            if data is None:
                w.add_tensor_info(spec.name, spec.shape, np.dtype(np.float32), nbytes, raw_dtype=qtype)
            else:
                w.add_tensor(spec.name, data)
        w.split_max_tensors = 0
        if split == 1:  # GGUFWriter writes split keys only for 2+ files; llama-gguf-split writes them for 1 too
            w.add_uint16(gguf.Keys.Split.LLM_KV_SPLIT_NO, 0)
            w.add_uint16(gguf.Keys.Split.LLM_KV_SPLIT_COUNT, 1)
            w.add_int32(gguf.Keys.Split.LLM_KV_SPLIT_TENSORS_COUNT, len(tensors))
        staged = w.format_shard_names(path)
        try:
            w.write_header_to_file()
            w.write_kv_data_to_file()
            if all(holes):
                w.write_ti_data_to_file()
                for fout, infos in zip(w.fout, w.tensors):  # data section: aligned start, each tensor padded
                    start = gguf.GGUFWriter.ggml_pad(fout.tell(), align)
                    fout.truncate(start + sum(gguf.GGUFWriter.ggml_pad(ti.nbytes, align) for ti in infos.values()))
            else:
                w.write_tensors_to_file()
        finally:
            w.close()
        return _commit(staged, target.parent)


def _weights(table: list[TensorSpec], seed: int) -> list[np.ndarray]:
    """Seeded random weights, one array per tensor in table order: F32 where conversions keep F32, else F16."""
    rng = np.random.default_rng(seed)
    out = []
    for spec in table:
        if len(spec.shape) == 1:
            scale, base = (0.05, 0.0) if spec.role == "router" else (0.1, 1.0)  # exp_probs_b ~ 0, norms ~ 1
            out.append((base + scale * rng.standard_normal(spec.shape)).astype(np.float32))
        else:
            x = rng.standard_normal(spec.shape) / np.sqrt(spec.row)
            out.append(x.astype(np.float32 if keeps_f32(spec) else np.float16))
    return out


def default_vocab() -> TokenizerAssets:
    """The Kimi-layout vocabulary :func:`workbench.tokenizer.train.build_vocab` trains (deterministic)."""
    from workbench.tokenizer import load
    from workbench.tokenizer.train import build_vocab

    with tempfile.TemporaryDirectory() as d:
        return load(build_vocab(Path(d) / "kimi-tiny-vocab"))


def vocab_assets(vocab: TokenizerAssets | str | os.PathLike[str] | None) -> TokenizerAssets:
    """``vocab`` loaded (a folder or file the tokenizer loaders read), or :func:`default_vocab` for None."""
    if vocab is None:
        return default_vocab()
    if isinstance(vocab, TokenizerAssets):
        return vocab
    from workbench.tokenizer import load

    return load(vocab)


def make_tiny_model(out: str | os.PathLike[str], *, layers: int = 3, experts: int = 8, experts_used: int = 2,
                    width: int = 64, seed: int = 0, split: int | None = None, old: bool = False,
                    vocab: TokenizerAssets | str | os.PathLike[str] | None = None,
                    chat_template: str | None = None, metadata: dict[str, str] | None = None) -> list[Path]:
    """Write a tiny Kimi K2-architecture model (one file, or ``split`` files); returns the files, split 1 first.

    ``chat_template`` replaces the bundled template the model carries otherwise; ``metadata`` adds string keys.
    """
    from workbench.chat.bundled import bundled_template

    target = check_target(out)
    shape = tiny(layers=layers, experts=experts, experts_used=experts_used, width=width)
    if split is not None:
        partition([1] * len(tensor_table(shape)), split)  # reject a bad split before any work
    assets = vocab_assets(vocab)
    shape = replace(shape, vocab=assets.vocab_size)
    table = tensor_table(shape)
    planned = []
    for spec, data in zip(table, _weights(table, seed)):
        qtype = gguf.GGMLQuantizationType.F32 if data.dtype == np.float32 else gguf.GGMLQuantizationType.F16
        planned.append((spec, qtype, data.nbytes, data))
    return write_shaped(target, shape, planned, assets=assets, eos=EOS_OLD if old else EOS,
                        chat_template=chat_template if chat_template is not None else
                        bundled_template("kimi-k2-old" if old else "kimi-k2"),
                        file_type=gguf.LlamaFileType.MOSTLY_F16, split=split, control_all=old, metadata=metadata)
