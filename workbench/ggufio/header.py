"""A fast index of a GGUF header: every key's type, value and byte offset; tensor infos; arrays on demand.

Why not ``gguf.GGUFReader`` here: it materialises a numpy view for every element of every
array, which for a real Kimi header (163,840 tokens and 163,328 merges, ~5 MB) takes about
10 s. Inspecting and patching in place must cost milliseconds, so this index walks the same
layout (GGUF v2/v3, little-endian: magic, version, tensor and key counts, key/value pairs,
tensor infos, aligned data) over a memory map with ``struct``, decodes scalars and strings,
records where each array item lies, and decodes arrays only when asked. Type codes, scalar
formats and quantisation block sizes come from the ``gguf`` package; the tests compare
this index with ``GGUFReader`` key by key and tensor by tensor. Writing stays with gguf-py.

    >>> h = read_header("model.gguf")                       # doctest: +SKIP
    >>> h.value("tokenizer.ggml.eos_token_id"), h.fields["tokenizer.ggml.eos_token_id"].offset   # doctest: +SKIP
    >>> h.array("tokenizer.ggml.tokens")[163586]            # doctest: +SKIP
    '<|im_end|>'
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.errors import InputError

_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
#: GGUF scalar type code -> struct format (little-endian); 8 = string, 9 = array
SCALAR_FORMATS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
STRING, ARRAY = 8, 9


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
        import gguf

        if self.type == ARRAY:
            return f"array[{gguf.GGUFValueType(self.sub_type).name.lower()}]"
        return gguf.GGUFValueType(self.type).name.lower()


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
    _mm: mmap.mmap = field(repr=False)

    def value(self, key: str, default=None):
        f = self.fields.get(key)
        return default if f is None or f.type == ARRAY else f.value

    def item(self, key: str, i: int):
        """Item ``i`` of an array key."""
        f = self.fields[key]
        if not 0 <= i < f.count:
            raise IndexError(f"{key}[{i}] out of range ({f.count} items)")
        if f.sub_type == STRING:
            off = int(f.item_offsets[i])
            n = _U64.unpack_from(self._mm, off)[0]
            return self._mm[off + 8:off + 8 + n].decode("utf-8", errors="replace")
        fmt = SCALAR_FORMATS[f.sub_type]
        return struct.unpack_from("<" + fmt, self._mm, f.offset + i * struct.calcsize(fmt))[0]

    def array(self, key: str) -> list:
        """Every item of an array key (decoded now; a 163,840-token list takes ~0.1 s)."""
        f = self.fields[key]
        if f.sub_type == STRING:
            mm = self._mm
            out = []
            for off in f.item_offsets.tolist():
                n = _U64.unpack_from(mm, off)[0]
                out.append(mm[off + 8:off + 8 + n].decode("utf-8", errors="replace"))
            return out
        if f.sub_type == ARRAY:
            raise InputError(f"{self.path}: {key} is a nested array, which the workbench does not read")
        dtype = np.dtype("<" + SCALAR_FORMATS[f.sub_type])
        return np.frombuffer(self._mm, dtype=dtype, count=f.count, offset=f.offset).tolist()

    def close(self) -> None:
        self._mm.close()


def _tensor_bytes(shape: tuple[int, ...], qtype: int, name: str, path: Path) -> int:
    import gguf

    try:
        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(qtype)]
    except (ValueError, KeyError):
        raise InputError(f"{path}: tensor {name} has unknown type {qtype}") from None
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if shape and shape[0] % block:
        raise InputError(f"{path}: tensor {name} has rows of {shape[0]}, not a multiple of its type's block {block}")
    return n // block * size


def read_header(path: str | os.PathLike[str]) -> Header:
    """Index the header of one GGUF file; a malformed one is a one-line :class:`InputError`."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a file")
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 24:
                raise InputError(f"{p}: {size} bytes, too short for a GGUF header")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror}") from e
    try:
        return _parse(p, mm, size)
    except (struct.error, IndexError, UnicodeDecodeError, OverflowError, ValueError) as e:
        mm.close()
        if isinstance(e, InputError):
            raise
        raise InputError(f"{p}: truncated or corrupt GGUF header ({type(e).__name__}: {e})") from e
    except InputError:
        mm.close()
        raise


def _parse(p: Path, mm: mmap.mmap, size: int) -> Header:
    import gguf

    if mm[:4] != b"GGUF":
        raise InputError(f"{p}: not a GGUF file (magic {bytes(mm[:4])!r}, expected b'GGUF')")
    version = _U32.unpack_from(mm, 4)[0]
    if version not in (2, 3):
        swapped = struct.unpack_from(">I", mm, 4)[0]
        what = "a big-endian file" if swapped in (2, 3) else f"version {version}"
        raise InputError(f"{p}: unsupported GGUF ({what}); the workbench reads little-endian GGUF v2 and v3")
    n_tensors, n_kv = struct.unpack_from("<QQ", mm, 8)
    off = 24

    def string(o: int) -> tuple[str, int]:
        n = _U64.unpack_from(mm, o)[0]
        if o + 8 + n > size:
            raise InputError(f"{p}: truncated GGUF header (a string runs past the end of the file)")
        return mm[o + 8:o + 8 + n].decode("utf-8"), o + 8 + n

    fields: dict[str, Field] = {}
    for _ in range(n_kv):
        name, off = string(off)
        vtype = _U32.unpack_from(mm, off)[0]
        off += 4
        if vtype == STRING:
            value, end = string(off)
            fields[name] = Field(name, vtype, off, value=value)
            off = end
        elif vtype == ARRAY:
            sub, count = struct.unpack_from("<IQ", mm, off)
            off += 12
            if sub == STRING:
                offsets = np.empty(count, dtype=np.int64)
                start = off
                for i in range(count):
                    offsets[i] = off
                    off += 8 + _U64.unpack_from(mm, off)[0]
                if off > size:
                    raise InputError(f"{p}: truncated GGUF header (array {name} runs past the end of the file)")
                fields[name] = Field(name, vtype, start, sub, count, item_offsets=offsets)
            elif sub in SCALAR_FORMATS:
                fields[name] = Field(name, vtype, off, sub, count)
                off += struct.calcsize(SCALAR_FORMATS[sub]) * count
            else:
                raise InputError(f"{p}: key {name} is an array of type {sub}, which the workbench does not read")
        elif vtype in SCALAR_FORMATS:
            fmt = "<" + SCALAR_FORMATS[vtype]
            fields[name] = Field(name, vtype, off, value=struct.unpack_from(fmt, mm, off)[0])
            off += struct.calcsize(fmt)
        else:
            raise InputError(f"{p}: key {name} has unknown value type {vtype}")
        if off > size:
            raise InputError(f"{p}: truncated GGUF header")

    tensors = []
    for _ in range(n_tensors):
        name, off = string(off)
        n_dims = _U32.unpack_from(mm, off)[0]
        dims = struct.unpack_from(f"<{n_dims}Q", mm, off + 4)
        qtype, rel = struct.unpack_from("<IQ", mm, off + 4 + 8 * n_dims)
        off += 4 + 8 * n_dims + 12
        tensors.append(Tensor(name, tuple(int(d) for d in dims), qtype, int(rel), _tensor_bytes(dims, qtype, name, p)))
    align_field = fields.get("general.alignment")
    alignment = int(align_field.value) if align_field is not None and align_field.type != ARRAY else gguf.GGUF_DEFAULT_ALIGNMENT
    data_offset = off + (-off % alignment)
    for t in tensors:
        end = data_offset + t.rel_offset + t.n_bytes
        if end > size:
            raise InputError(f"{p}: tensor {t.name} ends at byte {end:,}, beyond the file ({size:,} bytes): "
                             "truncated tensor data")
    return Header(p, version, fields, tensors, alignment, data_offset, size, mm)
