"""The bounded walk over a GGUF header's bytes: every count and length checked before it is used.

:func:`read_header` (through :func:`parse`) reads a header the way :mod:`workbench.gguffile.header` indexes it (GGUF v2/v3,
little-endian: magic, version, tensor and key counts, key/value pairs, tensor infos, aligned
data), but trusts nothing in it: key and tensor counts, string lengths, array item types and
counts, value type codes, ``n_dims <= 4`` and dims whose product fits, tensor types, offsets
aligned and inside the file, the alignment itself, duplicate names are each checked against
the bytes the file has *before* anything is allocated or read. A bad header is one
:class:`~workbench.errors.InputError` naming the field and its byte offset; a name read from
the file is escaped (:func:`shown`) so the message stays one line. The bytes are read into
memory as the walk needs them (:class:`_Bytes`), never memory-mapped: a file truncated under
a reader cannot end it with SIGBUS.

    >>> parse(Path("bad.gguf"), open("bad.gguf", "rb"))    # doctest: +SKIP
    InputError: bad.gguf: truncated GGUF header or corrupt count: tokenizer.ggml.tokens count 4,294,967,295 …

Not here: the index it builds (:mod:`workbench.gguffile.header`), reading a consistent file
while a writer works (:mod:`workbench.gguffile.lock`).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from workbench.errors import InputError
from workbench.gguffile.header import MAX_DIMS, U32, U64, Field, Header, Tensor, scalar_struct, value_types
from workbench.gguffile.lock import consistent

_FIRST_READ = 256 << 10
_I64_MAX = 2**63 - 1


def shown(name: str, limit: int = 80) -> str:
    """A name read from a file, safe for a one-line message: ``"a\\nb" -> "'a\\\\nb'"``, long ones cut."""
    if name.isprintable() and 0 < len(name) <= limit:
        return name
    text = repr(name[:limit])
    return text + ("…" if len(name) > limit else "")


class _Bytes:
    """The file's leading bytes, read as the walk needs them; a need past the end is a one-line error."""

    def __init__(self, f, path: Path, size: int) -> None:
        self.f, self.path, self.size = f, path, size
        self.buf = bytearray()
        self.grow(min(size, _FIRST_READ))

    def grow(self, end: int) -> None:
        want = min(self.size, max(end, 2 * len(self.buf)))
        self.f.seek(len(self.buf))
        chunk = self.f.read(want - len(self.buf))
        self.buf += chunk
        if len(self.buf) < want:
            raise InputError(f"{self.path}: the file shrank while its header was read")

    def need(self, off: int, n: int, what: str) -> None:
        """Bytes ``[off, off + n)`` must exist; read them in if they are not yet."""
        if off + n > self.size:
            raise InputError(f"{self.path}: truncated GGUF header: {what} at byte {off:,} needs {n:,} bytes, "
                             f"the file ends at {self.size:,}")
        if off + n > len(self.buf):
            self.grow(off + n)

    def u32(self, off: int, what: str) -> int:
        self.need(off, 4, what)
        return U32.unpack_from(self.buf, off)[0]

    def u64(self, off: int, what: str) -> int:
        self.need(off, 8, what)
        return U64.unpack_from(self.buf, off)[0]

    def name(self, off: int, kind: str, k: int, seen) -> tuple[str, str, int]:
        """The ``k``-th key or tensor name at ``off``, not in ``seen``: (name, its one-line label, offset after it)."""
        name, end = self.text(off, f"{kind} {k} name")
        if name in seen:
            raise InputError(f"{self.path}: bad GGUF header: duplicate {kind} {shown(name)} at byte {off:,}")
        return name, shown(name), end

    def text(self, off: int, what: str) -> tuple[str, int]:
        """A GGUF string (u64 length, UTF-8 bytes) at ``off``: (text, offset after it)."""
        n = self.u64(off, f"{what} length")
        if n > self.size - off - 8:
            raise InputError(f"{self.path}: truncated GGUF header or corrupt length: {what} at byte {off:,} claims {n:,} bytes, "
                             f"{max(self.size - off - 8, 0):,} remain in the file")
        self.need(off + 8, n, what)
        try:
            return self.buf[off + 8:off + 8 + n].decode("utf-8"), off + 8 + n
        except UnicodeDecodeError as e:
            raise InputError(f"{self.path}: bad GGUF header: {what} at byte {off:,} is not UTF-8 "
                             f"(byte {off + 8 + e.start:,})") from None


def read_header(path: str | os.PathLike[str]) -> Header:
    """Index the header of one GGUF file; a malformed one is a one-line :class:`InputError`.

    Every count and length is checked first (:func:`parse`). Never half a patch: the read waits
    out a writer's in-place patch and is repeated if the file changed meanwhile
    (:func:`workbench.gguffile.lock.consistent`).
    """
    return consistent(Path(path), parse)


def parse(p: Path) -> Header:
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a file")
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 24:
                raise InputError(f"{p}: {size} bytes, too short for a GGUF header")
            return _walk(p, _Bytes(f, p, size), size)
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror or e}") from e


def _walk(p: Path, b: _Bytes, size: int) -> Header:
    import gguf

    vt, scalars = value_types()
    string, array = int(vt.STRING), int(vt.ARRAY)
    if bytes(b.buf[:4]) != b"GGUF":
        raise InputError(f"{p}: not a GGUF file (magic {bytes(b.buf[:4])!r}, expected b'GGUF')")
    version = b.u32(4, "version")
    if version not in (2, 3):
        swapped = int.from_bytes(b.buf[4:8], "big")
        what = "a big-endian file" if swapped in (2, 3) else f"version {version}"
        raise InputError(f"{p}: unsupported GGUF ({what}); the workbench reads little-endian GGUF v2 and v3")
    n_tensors, n_kv = b.u64(8, "tensor count"), b.u64(16, "key count")
    # each key takes at least 13 bytes (name length, type, a 1-byte value), each tensor info 24
    if n_kv * 13 + n_tensors * 24 > size - 24:
        raise InputError(f"{p}: truncated GGUF header or corrupt counts: {n_kv:,} keys (byte 16) and {n_tensors:,} "
                         f"tensors (byte 8) need at least {n_kv * 13 + n_tensors * 24:,} bytes, the file has "
                         f"{size - 24:,} after the counts")
    off = 24

    fields: dict[str, Field] = {}
    for k in range(n_kv):
        name, label, off = b.name(off, "key", k, fields)
        vtype = b.u32(off, f"{label} value type")
        off += 4
        if vtype == string:
            value, end = b.text(off, f"{label} value")
            fields[name] = Field(name, vtype, off, value=value)
            off = end
        elif vtype == array:
            sub, count = b.u32(off, f"{label} item type"), b.u64(off + 4, f"{label} count")
            off += 12
            if sub == string:
                if count * 8 > size - off:
                    raise _too_many(p, label, off - 8, count, 8, size - off)
                start = off
                offsets: list[int] = []
                append, unpack, buf, have = offsets.append, U64.unpack_from, b.buf, len(b.buf)
                for i in range(count):  # the hot loop of a real header: 327,168 items, one test each
                    if off + 8 > have:
                        if off + 8 > size:
                            raise _bad_item(p, label, offsets, off, size)
                        b.need(off, 8, f"{label}[{i}] length")
                        have = len(buf)
                    append(off)
                    off += 8 + unpack(buf, off)[0]
                if off > size:
                    raise _bad_item(p, label, offsets, off, size)
                b.need(start, off - start, label)
                fields[name] = Field(name, vtype, start, sub, count, item_offsets=np.array(offsets, dtype=np.int64))
            elif sub in scalars:
                width = scalars[sub].itemsize
                if count * width > size - off:
                    raise _too_many(p, label, off - 8, count, width, size - off)
                b.need(off, count * width, name)
                fields[name] = Field(name, vtype, off, sub, count)
                off += width * count
            elif sub == array:
                raise InputError(f"{p}: key {label} (item type at byte {off - 12:,}) is an array of arrays, "
                                 "which the workbench does not read")
            else:
                raise InputError(f"{p}: bad GGUF header: key {label} has unknown item type {sub} at byte {off - 12:,}")
        elif vtype in scalars:
            dtype = scalars[vtype]
            b.need(off, dtype.itemsize, f"{label} value")
            value = scalar_struct(dtype).unpack_from(b.buf, off)[0]
            fields[name] = Field(name, vtype, off, value=value)
            off += dtype.itemsize
        else:
            raise InputError(f"{p}: bad GGUF header: key {label} has unknown value type {vtype} at byte {off - 4:,}")

    alignment = gguf.GGUF_DEFAULT_ALIGNMENT
    align = fields.get(gguf.Keys.General.ALIGNMENT)
    if align is not None:
        if align.type != int(vt.UINT32):
            raise InputError(f"{p}: bad GGUF header: general.alignment is {align.type_name}, expected uint32")
        alignment = align.value
        if alignment <= 0 or alignment & (alignment - 1):
            raise InputError(f"{p}: bad GGUF header: general.alignment is {alignment} (byte {align.offset:,}), "
                             "not a power of two")

    tensors: list[Tensor] = []
    names: set[str] = set()
    for k in range(n_tensors):
        name, label, off = b.name(off, "tensor", k, names)
        names.add(name)
        n_dims = b.u32(off, f"tensor {label} dims")
        if n_dims > MAX_DIMS:
            raise InputError(f"{p}: bad GGUF header: tensor {label} has {n_dims} dims at byte {off:,} "
                             f"(at most {MAX_DIMS})")
        b.need(off + 4, 8 * n_dims + 12, f"tensor {label} info")
        dims = struct.unpack_from(f"<{n_dims}Q", b.buf, off + 4)
        n = 1
        for d in dims:
            n *= d
        if any(d > _I64_MAX for d in dims) or n > _I64_MAX:
            raise InputError(f"{p}: bad GGUF header: tensor {label} has dims {list(dims)} at byte {off + 4:,}, "
                             "whose product does not fit in 64 bits")
        end = off + 4 + 8 * n_dims
        qtype, rel = b.u32(end, f"tensor {label} type"), b.u64(end + 4, f"tensor {label} offset")
        n_bytes = _tensor_bytes(dims, qtype, label, p, end)
        if rel % alignment:
            raise InputError(f"{p}: bad GGUF header: tensor {label} has offset {rel:,} at byte {end + 4:,}, "
                             f"not a multiple of the alignment {alignment}")
        off = end + 12
        tensors.append(Tensor(name, dims, qtype, rel, n_bytes))
    data_offset = off + (-off % alignment)
    for t in tensors:
        t_end = data_offset + t.rel_offset + t.n_bytes
        if t_end > size:
            raise InputError(f"{p}: tensor {shown(t.name)} ends at byte {t_end:,}, beyond the file ({size:,} bytes): "
                             "truncated tensor data")
    return Header(p, version, fields, tensors, alignment, data_offset, size, b.buf)


def _bad_item(p: Path, name: str, offsets: list[int], off: int, size: int) -> InputError:
    """The string array item whose length runs past the file (the last one read), or the file ending inside it."""
    if off <= size or not offsets:  # the lengths so far fit: the file ends inside the next length field
        return InputError(f"{p}: truncated GGUF header: {name}[{len(offsets)}] length at byte {off:,} needs 8 bytes, "
                          f"the file ends at {size:,}")
    at = offsets[-1]
    return InputError(f"{p}: truncated GGUF header or corrupt length: {name}[{len(offsets) - 1}] at byte {at:,} "
                      f"claims {off - at - 8:,} bytes, {max(size - at - 8, 0):,} remain in the file")


def _too_many(p: Path, name: str, at: int, count: int, width: int, left: int) -> InputError:
    return InputError(f"{p}: truncated GGUF header or corrupt count: {name} count {count:,} at byte {at:,} needs at least "
                      f"{count * width:,} bytes, {max(left, 0):,} remain in the file")


def _tensor_bytes(shape: tuple[int, ...], qtype: int, name: str, path: Path, at: int) -> int:
    import gguf

    try:
        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(qtype)]
    except (ValueError, KeyError):
        raise InputError(f"{path}: tensor {name} has unknown type {qtype} (byte {at:,})") from None
    n = 1
    for d in shape:
        n *= d
    if shape and shape[0] % block:
        raise InputError(f"{path}: tensor {name} has rows of {shape[0]}, not a multiple of its type's block {block}")
    return n // block * size
