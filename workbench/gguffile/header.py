"""A fast, hardened index of a GGUF header: every key's type, value and byte offset; tensor infos; arrays on demand.

Why not ``gguf.GGUFReader`` here: it materialises a numpy view for every element of every
array, which for a real Kimi header (163,840 tokens and 163,328 merges, ~5 MB) takes about
10 s. Inspecting and patching in place must cost milliseconds, so this index walks the same
layout (GGUF v2/v3, little-endian: magic, version, tensor and key counts, key/value pairs,
tensor infos, aligned data), decodes scalars and strings, records where each array item
lies, and decodes arrays only when asked. Value types, their widths and quantisation block
sizes come from the ``gguf`` package; the tests compare this index with ``GGUFReader`` key
by key and tensor by tensor. Writing stays with gguf-py.

Every file is untrusted: the walk that builds the index (:mod:`workbench.gguffile.walk`) checks
each count and length against the bytes the file has before anything is allocated or read,
and keeps the header bytes in memory, so later array reads see the bytes the index was built
from. The keys a caller interprets are read typed (:meth:`Header.strings`, :meth:`Header.ints`,
:meth:`Header.int_value`): another type is a one-line error, not a surprise further on.

    >>> h = read_header("model.gguf")       # workbench.gguffile.read_header   # doctest: +SKIP
    >>> h.value("tokenizer.ggml.eos_token_id"), h.fields["tokenizer.ggml.eos_token_id"].offset   # doctest: +SKIP
    >>> h.strings("tokenizer.ggml.tokens")[163586]          # doctest: +SKIP
    '<|im_end|>'
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from workbench.errors import InputError

#: ggml's GGML_MAX_DIMS
MAX_DIMS = 4
U32, U64 = struct.Struct("<I"), struct.Struct("<Q")


@lru_cache(maxsize=1)
def value_types():
    """gguf's value-type enum and its scalar codes -> little-endian numpy dtype: ``(GGUFValueType, {4: '<u4', …})``."""
    from gguf import GGUFReader, GGUFValueType

    return GGUFValueType, {int(t): np.dtype(d).newbyteorder("<") for t, d in GGUFReader.gguf_scalar_to_np.items()}


@cache
def scalar_struct(dtype: np.dtype) -> struct.Struct:
    """The ``struct`` reader of one little-endian numpy scalar type: ``<u4 -> Struct('<I')``."""
    code = {("u", 1): "B", ("i", 1): "b", ("u", 2): "H", ("i", 2): "h", ("u", 4): "I", ("i", 4): "i", ("u", 8): "Q",
            ("i", 8): "q", ("f", 4): "f", ("f", 8): "d", ("b", 1): "?"}[(dtype.kind, dtype.itemsize)]
    return struct.Struct("<" + code)


def _vt():
    return value_types()[0]


def _scalars() -> dict[int, np.dtype]:
    return value_types()[1]


@dataclass
class Field:
    name: str
    type: int  # gguf.GGUFValueType code
    offset: int  # scalars: the value; strings: the u64 length before the bytes; arrays: the first item
    sub_type: int | None = None  # arrays
    count: int | None = None  # arrays
    value: object = None  # scalars and strings
    item_offsets: np.ndarray | None = field(default=None, repr=False)  # string arrays: each item's length field

    @property
    def type_name(self) -> str:
        vt = _vt()
        if self.type == vt.ARRAY:
            return f"array[{vt(self.sub_type).name.lower()}]"
        return vt(self.type).name.lower()

    @property
    def is_array(self) -> bool:
        return self.count is not None


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]  # GGUF order, fastest dimension first
    type: int  # gguf.GGMLQuantizationType code
    rel_offset: int  # from the start of the data section
    n_bytes: int


@dataclass
class Header:
    path: Path
    version: int
    fields: dict[str, Field]
    tensors: list[Tensor]
    alignment: int
    data_offset: int
    size: int
    _buf: bytearray = field(repr=False)  # every header byte (and maybe a little more), as read when indexed

    def value(self, key: str, default=None):
        """A scalar or string key's value; ``default`` when absent or an array."""
        f = self.fields.get(key)
        return default if f is None or f.is_array else f.value

    def item(self, key: str, i: int):
        """Item ``i`` of an array key."""
        f = self.fields[key]
        if not 0 <= i < f.count:
            raise IndexError(f"{key}[{i}] out of range ({f.count} items)")
        if f.sub_type == _vt().STRING:
            off = int(f.item_offsets[i])
            n = U64.unpack_from(self._buf, off)[0]
            return self._buf[off + 8:off + 8 + n].decode("utf-8", errors="replace")
        dtype = _scalars()[f.sub_type]
        return scalar_struct(dtype).unpack_from(self._buf, f.offset + i * dtype.itemsize)[0]

    def array(self, key: str) -> list:
        """Every item of an array key (decoded now; a 163,840-token list takes ~0.1 s)."""
        f = self.fields[key]
        if f.sub_type == _vt().STRING:
            buf = self._buf
            out = []
            unpack = U64.unpack_from
            for off in f.item_offsets.tolist():
                n = unpack(buf, off)[0]
                out.append(buf[off + 8:off + 8 + n].decode("utf-8", errors="replace"))
            return out
        return np.frombuffer(self._buf, dtype=_scalars()[f.sub_type], count=f.count, offset=f.offset).tolist()

    def strings(self, key: str) -> list[str]:
        """An array key the caller reads as text (token list, merges); any other type is a one-line error."""
        f = self._array_field(key)
        if f.sub_type != _vt().STRING:
            raise InputError(f"{self.path}: {key} is {f.type_name}, expected an array of strings")
        return self.array(key)

    def ints(self, key: str) -> list[int]:
        """An array key the caller reads as integers (token types); any other type is a one-line error."""
        f = self._array_field(key)
        if f.sub_type not in _int_codes():
            raise InputError(f"{self.path}: {key} is {f.type_name}, expected an array of integers")
        return self.array(key)

    def int_value(self, key: str) -> int | None:
        """A scalar key the caller reads as an integer (an id, a count); None when absent, else an error if not one."""
        f = self.fields.get(key)
        if f is None:
            return None
        if f.is_array or f.type not in _int_codes():
            raise InputError(f"{self.path}: {key} is {f.type_name}, expected an integer")
        return f.value

    def _array_field(self, key: str) -> Field:
        f = self.fields.get(key)
        if f is None:
            raise KeyError(key)
        if not f.is_array:
            raise InputError(f"{self.path}: {key} is {f.type_name}, expected an array")
        return f

    def close(self) -> None:
        """Nothing to release (the header bytes are held in memory); kept for callers that close."""


@lru_cache(maxsize=1)
def _int_codes() -> frozenset[int]:
    vt = _vt()
    return frozenset(int(t) for t in (vt.UINT8, vt.INT8, vt.UINT16, vt.INT16, vt.UINT32, vt.INT32, vt.UINT64, vt.INT64))
