"""A rewrite of one GGUF file beside it: the header by ``gguf.GGUFWriter``, tensor data streamed and hashed.

:func:`rewrite` writes the new file to a temp name (free disk checked first, progress shown,
fsynced) and returns it with the sha256 of the tensor bytes it copied; the caller compares
:func:`tensor_digest` of the result and renames it over the old file.

Not here: deciding to rewrite (:mod:`.plan`), the rename and the checks after it (:mod:`.patch`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from gguf import Keys

from workbench.errors import InputError
from workbench.gguffile import read_header
from workbench.ggufio.journal import rewrite_temp
from workbench.ggufio.plan import Plan
from workbench.ggufio.values import value_type

CHUNK = 64 << 20


def rewrite(p: Plan, values: Mapping[str, object], remove: Sequence[str], *, header: bytes | None = None,
             progress: bool = True) -> tuple[Path, str]:
    """Write the new file beside ``p.path``; returns (temp path, sha256 of tensor data)."""
    import gguf
    from tqdm.auto import tqdm

    reader = gguf.GGUFReader(p.path)  # already validated by the header index (plan / restore)
    size = p.path.stat().st_size
    free = shutil.disk_usage(p.path.parent).free
    if free < size + (64 << 20):
        raise InputError(f"{p.path}: a rewrite needs {size / 2**30:.1f} GiB free beside the file, "
                         f"{free / 2**30:.1f} GiB available; nothing was changed")
    tmp = rewrite_temp(p.path)
    tensors = sorted(reader.tensors, key=lambda t: int(t.data_offset))
    if header is None:
        arch = reader.get_field(Keys.General.ARCHITECTURE)
        w = gguf.GGUFWriter(tmp, arch=arch.contents() if arch else "unknown")
        w.data_alignment = int(reader.alignment)
        for name, f in reader.fields.items():
            if name.startswith("GGUF.") or name == Keys.General.ARCHITECTURE or name in remove:
                continue
            sub = f.types[-1] if f.types[0] == gguf.GGUFValueType.ARRAY else None
            value = values[name] if name in values else f.contents()
            w.add_key_value(name, value, f.types[0], sub_type=sub)
        for name, value in values.items():
            if reader.get_field(name) is None:
                w.add_key_value(name, value, value_type(gguf, next(c.type for c in p.changes if c.key == name)))
        for t in reader.tensors:
            w.add_tensor_info(t.name, t.data.shape, t.data.dtype, int(t.data.nbytes), raw_dtype=t.tensor_type)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        w.close()
        out = open(tmp, "r+b")
        out.seek(0, os.SEEK_END)
        out.write(b"\0" * (gguf.GGUFWriter.ggml_pad(out.tell(), int(reader.alignment)) - out.tell()))
    else:
        out = open(tmp, "wb")
        out.write(header)
    digest = hashlib.sha256()
    data_start = out.tell()
    base = int(reader.data_offset)
    try:
        with open(p.path, "rb") as src, tqdm(total=sum(int(t.n_bytes) for t in tensors), unit="B", unit_scale=True,
                                             desc=f"rewrite {p.path.name}", disable=not progress) as bar:
            for t in tensors:
                rel = int(t.data_offset) - base
                out.write(b"\0" * (data_start + rel - out.tell()))
                src.seek(int(t.data_offset))
                left = int(t.n_bytes)
                while left:
                    chunk = copy_chunk(src, out, min(CHUNK, left))
                    digest.update(chunk)
                    left -= len(chunk)
                    bar.update(len(chunk))
        out.write(b"\0" * (data_start + (size - base) - out.tell()))  # trailing padding, as in the original
        out.flush()
        os.fsync(out.fileno())
    except BaseException:
        out.close()
        tmp.unlink(missing_ok=True)
        raise
    out.close()
    return tmp, digest.hexdigest()


def copy_chunk(src, out, n: int) -> bytes:
    chunk = src.read(n)
    if len(chunk) != n:
        raise InputError(f"{src.name}: truncated tensor data (wanted {n:,} bytes at {src.tell():,})")
    out.write(chunk)
    return chunk


def tensor_digest(path: Path) -> tuple[str, list[tuple[str, int]]]:
    """sha256 of every tensor's bytes in file order, and (name, offset from the data start) of each."""
    h = read_header(path)
    h.close()
    digest = hashlib.sha256()
    layout = []
    with open(path, "rb") as f:
        for t in sorted(h.tensors, key=lambda t: t.rel_offset):
            layout.append((t.name, t.rel_offset))
            f.seek(h.data_offset + t.rel_offset)
            left = t.n_bytes
            while left:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise InputError(f"{path}: truncated tensor data")
                digest.update(chunk)
                left -= len(chunk)
    return digest.hexdigest(), layout


def relative(layout: list[tuple[str, int, int]], data_offset: int) -> list[tuple[str, int]]:
    """(name, offset from the data start), in file order: what :func:`tensor_digest` reports."""
    return sorted(((name, off - data_offset) for name, off, _ in layout), key=lambda t: t[1])
