"""Real-scale Kimi K2 GGUF files whose tensor data is a sparse hole: hundreds of GB on a few MB of disk.

:func:`write_kimi_shaped` writes what a Unsloth Kimi K2 quant looks like from the outside: the
``deepseek2.*`` keys, the full tensor table with a recipe's types, real shapes and offsets
(:mod:`workbench.models.shape`), the tokenizer keys of a 163,840-token vocabulary and
the chat template, optionally cut into split files like the published sets. The header is
written, then each file is extended to its full size with ``truncate``: the tensor bytes
are never written, so the filesystem stores them as a hole (zeros when read). Inspection,
metadata patching, split-set handling and memory planning can then be tested on files of
the real size and layout without the real download; llama.cpp loads them ``vocab_only``.

    >>> [f.name for f in write_kimi_shaped("artifacts/Kimi-K2-Instruct-UD-Q2_K_XL.gguf", split=8)][:1]  # doctest: +SKIP
    ['Kimi-K2-Instruct-UD-Q2_K_XL-00001-of-00008.gguf']

The real ``tiktoken.model`` cannot be shipped, so the vocabulary is synthetic unless one is
passed: :func:`synthetic_ranks` — the 256 single bytes, then every 2-byte string, then
3-byte strings (a 2-byte token plus one byte), so each token is the merge of two
lower-ranked ones and the merges ``add_tokenizer`` derives are cheap — followed by the 256
Kimi special ids (:func:`workbench.tokenizer.special.special_tokens`).

Not here: anything that reads tensor data (it is all zeros), a filesystem without sparse
files (refused: :func:`sparse_supported`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from workbench.errors import InputError
from workbench.models.recipes import Recipe, typed_table
from workbench.models.recipes import recipe as get_recipe
from workbench.models.shape import KIMI_K2, KimiShape
from workbench.models.tiny import check_target, write_shaped
from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.special import EOS, EOS_OLD, KIMI_N_RANKS, N_SPECIAL, special_tokens

#: the hole a sparse-file probe makes, and the most it may allocate
_PROBE_BYTES = 64 << 20
_PROBE_ALLOWED = 1 << 20


def synthetic_ranks(n_ranks: int = KIMI_N_RANKS) -> dict[bytes, int]:
    """``n_ranks`` distinct byte-level tokens, each a merge of two lower ranks: bytes, 2-byte, then 3-byte strings.

    ``synthetic_ranks(258) == {b"\\x00": 0, …, b"\\xff": 255, b"\\x00\\x00": 256, b"\\x00\\x01": 257}``
    """
    if not 256 <= n_ranks <= 256 + 256**2 + 256**3:
        raise InputError(f"n_ranks={n_ranks}: need 256 to {256 + 256**2 + 256**3} synthetic ranks")
    ranks = {bytes([b]): b for b in range(256)}
    pairs = (bytes([a, b]) for a in range(256) for b in range(256))
    for token in pairs:
        if len(ranks) == n_ranks:
            return ranks
        ranks[token] = len(ranks)
    for prefix in (bytes([a, b]) for a in range(256) for b in range(256)):
        for c in range(256):
            if len(ranks) == n_ranks:
                return ranks
            ranks[prefix + bytes([c])] = len(ranks)
    return ranks


def synthetic_vocab(n_ranks: int = KIMI_N_RANKS, *, old: bool = False) -> TokenizerAssets:
    """:func:`synthetic_ranks` plus the 256 Kimi special ids, with a Moonshot-shaped config (EOS ``[EOS]`` if old)."""
    from workbench.tokenizer.train import tokenizer_config

    return TokenizerAssets(Path(f"synthetic-kimi-{n_ranks}"), synthetic_ranks(n_ranks), special_tokens(n_ranks),
                           tokenizer_config(n_ranks, eos=EOS_OLD if old else EOS))


def sparse_supported(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder``'s filesystem keeps a 64 MiB ``truncate`` hole unallocated (probe file removed after)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".sparse-probe.")
    try:
        os.ftruncate(fd, _PROBE_BYTES)
        return os.fstat(fd).st_blocks * 512 <= _PROBE_ALLOWED
    finally:
        os.close(fd)
        os.unlink(name)


def allocated_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes the filesystem actually holds for ``path`` (``st_blocks * 512``), not its apparent size."""
    return os.stat(path).st_blocks * 512


def write_kimi_shaped(out: str | os.PathLike[str], *, recipe: str | Recipe = "UD-Q2_K_XL", split: int | None = None,
                      old: bool = False, vocab: TokenizerAssets | None = None,
                      shape: KimiShape = KIMI_K2) -> list[Path]:
    """Write a Kimi K2-shaped GGUF (or ``split`` files) with a sparse hole for tensor data; returns the files.

    ``recipe``: a name in :data:`workbench.models.recipes.RECIPES` or a :class:`Recipe`.
    ``old=True``: EOS ``[EOS]`` and the earliest template (``kimi-k2-old``), as pre-fix files.
    ``vocab``: tokenizer assets whose size matches ``shape.vocab`` (default: synthetic).
    """
    from workbench.chat.bundled import bundled_template

    target = check_target(out)
    mix = get_recipe(recipe) if isinstance(recipe, str) else recipe
    planned = [(spec, qtype, nbytes, None) for spec, qtype, nbytes in typed_table(shape, mix)]
    if split is not None and not 1 <= split <= len(planned):
        raise InputError(f"split={split}: must be between 1 and the number of tensors ({len(planned)})")
    if vocab is None:
        if shape.vocab <= N_SPECIAL:
            raise InputError(f"shape.vocab={shape.vocab}: must exceed the {N_SPECIAL} special ids")
        vocab = synthetic_vocab(shape.vocab - N_SPECIAL, old=old)
    elif vocab.vocab_size != shape.vocab:
        raise InputError(f"{vocab.path}: {vocab.vocab_size} tokens, but the shape's token_embd has {shape.vocab} rows")
    if not sparse_supported(target.parent):
        raise InputError(f"{target.parent}: this filesystem does not keep sparse files; writing would allocate "
                         f"{sum(p[2] for p in planned):,} bytes")
    return write_shaped(target, shape, planned, assets=vocab, eos=EOS_OLD if old else EOS,
                        chat_template=bundled_template("kimi-k2-old" if old else "kimi-k2"),
                        file_type=mix.file_type, split=split)
