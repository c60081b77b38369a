"""Seeded mutants of a valid GGUF file: the broken and hostile headers a reader must survive.

:func:`mutants` walks the header of a good file (its own small walker, independent of the
reader under test) to find every integer that shapes the layout — counts, string and array
lengths, value and item type codes, tensor dims, types and offsets, and the values of keys
readers interpret — then yields files broken in one way each, reproducibly for a seed:

- ``extreme``: one such integer set to an extreme (0, 1, 2^31, 2^32-1, 10^12, 2^63-1, 2^64-1,
  one more or less than it was);
- ``retype``: a value's or an array's item type code changed to another code, half the time
  one of the same width (the file still parses; a count is now a float, a token type a
  signed byte), else any, so the bytes after it are read as something else;
- ``bitflip``: one to eight random bits flipped anywhere in the header;
- ``truncate``: the file cut short, inside the header or inside the tensor data.

    >>> for m in mutants("artifacts/Kimi-K2-Tiny.gguf", n=300, seed=1):   # doctest: +SKIP
    ...     m.write(tmp / "m.gguf"); run_reader(tmp / "m.gguf")

Not here: checking anything (the tests do), or files that are valid but unusual.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gguf

FAMILIES = ("extreme", "retype", "bitflip", "truncate")
_WIDTH = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF scalar type -> bytes
_STRING, _ARRAY = 8, 9
_EXTREMES = (0, 1, 2**31, 2**32 - 1, 10**12, 2**63 - 1, 2**64 - 1)


@dataclass(frozen=True)
class Slot:
    """An integer in the header: what it is, where it lies, how wide it is, what it holds."""

    what: str
    offset: int
    width: int
    value: int


@dataclass(frozen=True)
class Mutant:
    name: str  # family and what was done, e.g. "extreme: tokenizer.ggml.tokens count = 4294967295"
    family: str
    data: bytes

    def write(self, path: str | os.PathLike[str]) -> Path:
        Path(path).write_bytes(self.data)
        return Path(path)


def slots(data: bytes) -> tuple[list[Slot], int]:
    """Every layout integer of a valid GGUF v3 header, and where its tensor data starts."""
    out: list[Slot] = []

    def num(what: str, off: int, width: int) -> int:
        value = int.from_bytes(data[off:off + width], "little")
        out.append(Slot(what, off, width, value))
        return value

    def string(what: str, off: int) -> tuple[str, int]:
        n = num(f"{what} length", off, 8)
        return data[off + 8:off + 8 + n].decode("utf-8", "replace"), off + 8 + n

    n_tensors, n_kv = num("tensor count", 8, 8), num("key count", 16, 8)
    off = 24
    alignment = 32
    for _ in range(n_kv):
        name, off = string("key name", off)
        vtype = num(f"{name} value type", off, 4)
        off += 4
        if vtype == _STRING:
            _, off = string(f"{name} string", off)
        elif vtype == _ARRAY:
            sub = num(f"{name} item type", off, 4)
            count = num(f"{name} count", off + 4, 8)
            off += 12
            if sub == _STRING:
                for i in range(count):
                    n = int.from_bytes(data[off:off + 8], "little")
                    if i in (0, 1, count // 2, count - 1):
                        out.append(Slot(f"{name}[{i}] length", off, 8, n))
                    off += 8 + n
            else:
                off += _WIDTH[sub] * count
        else:
            value = num(f"{name} value", off, _WIDTH[vtype])
            if name == gguf.Keys.General.ALIGNMENT:
                alignment = value
            off += _WIDTH[vtype]
    for _ in range(n_tensors):
        name, off = string("tensor name", off)
        n_dims = num(f"{name} dims", off, 4)
        off += 4
        for d in range(n_dims):
            num(f"{name} dim {d}", off, 8)
            off += 8
        num(f"{name} type", off, 4)
        num(f"{name} offset", off + 4, 8)
        off += 12
    return out, off + (-off % alignment)


def _set(data: bytes, slot: Slot, value: int) -> bytes:
    raw = (value % (1 << (8 * slot.width))).to_bytes(slot.width, "little")
    return data[:slot.offset] + raw + data[slot.offset + slot.width:]


def mutants(path: str | os.PathLike[str], *, n: int = 300, seed: int = 0) -> Iterator[Mutant]:
    """``n`` mutants of the GGUF at ``path``, about a quarter from each family, the same for the same seed."""
    data = Path(path).read_bytes()
    if data[:4] != b"GGUF" or struct.unpack_from("<I", data, 4)[0] != 3:
        raise ValueError(f"{path}: mutants are made from a valid GGUF v3 file")
    table, header_end = slots(data)
    rng = random.Random(seed)
    type_slots = [s for s in table if s.what.endswith(("value type", "item type"))]
    for i in range(n):
        family = FAMILIES[i % len(FAMILIES)]
        if family == "extreme":
            slot = rng.choice(table)
            value = rng.choice((*_EXTREMES, slot.value + 1, max(slot.value - 1, 0)))
            yield Mutant(f"extreme: {slot.what} = {value}", family, _set(data, slot, value))
        elif family == "retype":
            slot = rng.choice(type_slots)
            same = [t for t, w in _WIDTH.items() if t != slot.value and w == _WIDTH.get(slot.value)]
            if same and rng.random() < 0.5:  # the same width: the layout still parses, the value is now another type
                value = rng.choice(same)
            else:
                value = rng.choice([t for t in (*_WIDTH, _STRING, _ARRAY) if t != slot.value] + [13, 2**32 - 1])
            yield Mutant(f"retype: {slot.what} {slot.value} -> {value}", family, _set(data, slot, value))
        elif family == "bitflip":
            flipped = bytearray(data)
            bits = sorted(rng.randrange(8 * header_end) for _ in range(rng.randint(1, 8)))
            for b in bits:
                flipped[b // 8] ^= 1 << (b % 8)
            yield Mutant(f"bitflip: bits {', '.join(map(str, bits))}", family, bytes(flipped))
        else:
            end = rng.randrange(header_end) if rng.random() < 0.7 else rng.randrange(header_end, len(data))
            yield Mutant(f"truncate: {end} of {len(data)} bytes", family, data[:end])
