"""Byte-level BPE vocabularies as GGUF files, for llama.cpp: the spelling, the merges, the writer.

Nothing here knows Kimi: this is the format the Kimi writer (:mod:`workbench.tokenizer.gguf_vocab`)
and the probe vocabularies (:mod:`workbench.pretok.probed`) share.

- :func:`byte_table` / :func:`byte_level`: GPT-2's byte-level spelling, ``b" a" -> "Ġa"``;
- :func:`merge_of`: the one merge that makes a token from lower-ranked ones, as GGUF
  conversions of tiktoken vocabularies (Qwen, Kimi) derive merges;
- :func:`add_bpe_tokenizer` / :func:`write_bpe_gguf`: any byte-level vocabulary with explicit
  merges, as a vocab-only ``deepseek2`` GGUF (its string arrays packed in one go);
- :func:`add_minimal_hparams`: the ``deepseek2`` keys llama.cpp reads before it stops at ``vocab_only``;
- :func:`finish`: header, key/values, tensors, close: how every whole-file write of ours ends.

    >>> merge_of(b"ab", {b"a": 0, b"b": 1, b"ab": 2})
    (b'a', b'b')

Not here: reading vocabularies back (``workbench.tokenizer.gguf_vocab``), model tensors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from workbench.errors import InputError
from workbench.files import atomic_path


def byte_level(token: bytes, table: dict[int, str]) -> str:
    """GPT-2 byte-level spelling: ``b" a" -> "Ġa"``."""
    return "".join(table[b] for b in token)


@lru_cache(maxsize=1)
def byte_table() -> dict[int, str]:
    """GPT-2's byte -> printable character table (``0x20 -> "Ġ"``), gguf's copy of transformers' one."""
    from gguf.vocab import bytes_to_unicode

    return bytes_to_unicode()


def merge_of(token: bytes, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The one merge that makes ``token``: BPE on its bytes with only lower ranks, until two parts.

    This is how GGUF conversions of tiktoken vocabularies (Qwen, Kimi) derive merges, one per
    non-byte token, in rank order: ``(b"ab", {a:0, b:1, ab:2}) -> (b"a", b"b")``.
    """
    rank = ranks[token]
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        best = min(((ranks.get(parts[i] + parts[i + 1]), i) for i in range(len(parts) - 1)
                    if ranks.get(parts[i] + parts[i + 1], rank) < rank), default=None)
        if best is None:
            break
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    if len(parts) != 2:
        raise InputError(f"token {token!r} (rank {rank}) is not the merge of two lower-ranked tokens")
    return parts[0], parts[1]


def add_bpe_tokenizer(writer, tokens: Sequence[bytes], merges: Iterable[tuple[int, int]], *, pre: str,
                      control: Sequence[str] = ()) -> None:
    """Add a byte-level BPE vocabulary with explicit merges to a ``gguf.GGUFWriter``.

    ``tokens`` are NORMAL tokens by id; ``merges`` are ``(id, at)`` in rank order, the merge
    that makes token ``id`` from its bytes ``[:at]`` and ``[at:]``; ``control`` names CONTROL
    tokens appended after them (the first is BOS and EOS, if any):
    ``([b"a", b"b", b"ab"], [(2, 1)], pre="kimi-k2")`` writes the merge ``"a b"``.
    """
    import gguf

    spelled = [t.decode("latin-1").translate(_byte_level_map()) for t in tokens]  # _byte_level, in C
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(spelled + list(control))
    writer.add_token_types([int(gguf.TokenType.NORMAL)] * len(tokens) + [int(gguf.TokenType.CONTROL)] * len(control))
    # gguf skips an empty array, and llama.cpp refuses a BPE vocabulary without merges (kimi-k2 aside):
    # "\u2400 \u2400" names no byte-level token (their characters are Latin-1 and U+0100..U+0143)
    writer.add_token_merges([f"{spelled[i][:at]} {spelled[i][at:]}" for i, at in merges] or ["\u2400 \u2400"])
    if control:
        writer.add_bos_token_id(len(tokens))
        writer.add_eos_token_id(len(tokens))
    writer.add_add_bos_token(False)


@lru_cache(maxsize=1)
def _byte_level_map() -> dict[int, str]:
    """:func:`byte_table` keyed for ``str.translate`` of a Latin-1-decoded token."""
    return dict(byte_table())


def write_bpe_gguf(path: str | os.PathLike[str], tokens: Sequence[bytes], merges: Iterable[tuple[int, int]], *,
                   pre: str, control: Sequence[str] = ("<|bos|>",), atomic: bool = True) -> Path:
    """A vocab-only ``deepseek2`` GGUF with :func:`add_bpe_tokenizer`'s vocabulary, for llama.cpp.

    ``atomic=False`` writes in place, for scratch files nobody else reads (no fsync).
    """
    out = Path(path)
    if atomic:
        with atomic_path(out) as tmp:
            _write_bpe_gguf(tmp, tokens, merges, pre=pre, control=control)
    else:
        _write_bpe_gguf(out, tokens, merges, pre=pre, control=control)
    return out


def _write_bpe_gguf(path: Path, tokens: Sequence[bytes], merges: Iterable[tuple[int, int]], *, pre: str,
                    control: Sequence[str]) -> None:
    w = _array_writer()(path, arch="deepseek2")
    add_minimal_hparams(w, len(tokens) + len(control))
    add_bpe_tokenizer(w, tokens, merges, pre=pre, control=control)
    finish(w)


def finish(writer) -> None:
    """Write what a ``gguf.GGUFWriter`` holds, in the order it insists on (header, key/values,
    tensors), and close it: the end of every whole-file write of ours."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@lru_cache(maxsize=1)
def _array_writer():
    """``gguf.GGUFWriter`` packing string and int arrays in one go (little-endian only).

    gguf packs array items one at a time in Python, ~4 µs each; a probe vocabulary
    (:mod:`workbench.pretok.probe`) writes a million merges. Same bytes, ~20x faster.
    """
    import struct
    from itertools import chain

    import gguf

    length = struct.Struct("<Q").pack

    class ArrayWriter(gguf.GGUFWriter):
        def _pack_val(self, val, vtype, add_vtype, sub_type=None):
            if (vtype == gguf.GGUFValueType.ARRAY and sub_type is None and isinstance(val, list) and val
                    and self.endianess == gguf.GGUFEndian.LITTLE):
                head = struct.pack("<I", vtype) if add_vtype else b""
                kinds = set(map(type, val))
                if kinds == {str}:
                    data = [v.encode("utf-8") for v in val]
                    return head + struct.pack("<IQ", gguf.GGUFValueType.STRING, len(val)) + \
                        b"".join(chain.from_iterable(zip(map(length, map(len, data)), data)))
                if kinds == {int}:
                    return head + struct.pack(f"<IQ{len(val)}i", gguf.GGUFValueType.INT32, len(val), *val)
            return super()._pack_val(val, vtype, add_vtype, sub_type)

    return ArrayWriter


def add_minimal_hparams(writer, vocab_size: int, *, context_length: int = 262144) -> None:
    """The minimal ``deepseek2`` hyper-parameters llama.cpp reads before it stops at ``vocab_only``."""
    writer.add_block_count(1)
    writer.add_context_length(context_length)
    writer.add_embedding_length(64)
    writer.add_feed_forward_length(128)
    writer.add_head_count(1)
    writer.add_head_count_kv(1)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_vocab_size(vocab_size)
