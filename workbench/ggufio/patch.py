"""Patch GGUF metadata without a re-download: in place when the bytes fit, else a safe rewrite.

``patch(path, {"tokenizer.ggml.eos_token_id": 163586})`` plans, applies, verifies:

- **in place** (O(1) in file size): a scalar keeps its GGUF type and is overwritten where it
  lies; a string whose new UTF-8 bytes have the old length likewise; a shorter
  ``tokenizer.chat_template`` is padded to the old length with a Jinja comment
  (``{#   #}``), accepted only when HF renders the padded and the unpadded template
  identically on the conversation suite;
- **rewrite** (anything else: longer strings, new or removed keys, type changes): a new
  file beside the old one, header written by ``gguf.GGUFWriter``, tensor data streamed
  across (progress bar, hashed), fsynced, re-read and compared, then renamed over the old.
  Free disk space is checked first.

Only the file of a split set that holds the key is touched (new keys go to split 1).

Safety: in-place edits go through :mod:`workbench.ggufio.journal` (the original bytes are
journalled before any overwrite; :func:`~workbench.ggufio.journal.recover`, run by every
patch and restore, rolls an interrupted patch back). A rewrite only ever renames a complete,
verified file over the old one, and keeps a hard link to the old until llama.cpp has loaded
the new. The known Kimi fixes built on this are in :mod:`workbench.ggufio.fixes`.

``backup=True`` keeps the original header (every byte before tensor data) in
``PATH.wb-backup``; :func:`restore` writes it back (in place when the header length is
unchanged, else by rewrite). Verification after every patch: the new values re-read from
the header, tensor offsets unchanged (rewrite: tensor bytes hashed equal), and llama.cpp
loads the file ``vocab_only`` and reports the new EOS / template.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.errors import InputError, WorkbenchError
from workbench.gguffile import read_header, value_types, writing
from workbench.ggufio.inspect import inspect, split_members
from workbench.ggufio.journal import apply_edits, commit, fsync_dir, old_link, recover, rewrite_temp

BACKUP_SUFFIX = ".wb-backup"
TEMPLATE_KEY = "tokenizer.chat_template"
CHUNK = 64 << 20
_INT_RANGES = {
    "uint8": (0, 2**8 - 1), "int8": (-(2**7), 2**7 - 1), "uint16": (0, 2**16 - 1), "int16": (-(2**15), 2**15 - 1),
    "uint32": (0, 2**32 - 1), "int32": (-(2**31), 2**31 - 1), "uint64": (0, 2**64 - 1), "int64": (-(2**63), 2**63 - 1),
}
_FLOATS = ("float32", "float64")


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


@dataclass(frozen=True)
class Change:
    key: str
    old: object  # None: a new key
    new: object  # None: the key is removed
    type: str
    how: str  # "in-place" | "rewrite" | "unchanged"
    note: str = ""

    def describe(self) -> str:
        def show(v):
            text = repr(v)
            return text if len(text) <= 60 else f"{text[:57]}… ({len(v):,} chars)"
        old = "(absent)" if self.old is None else show(self.old)
        new = "(removed)" if self.new is None else show(self.new)
        return f"{self.key} ({self.type}): {old} -> {new}  [{self.how}{'; ' + self.note if self.note else ''}]"

    def to_dict(self) -> dict:
        return {"key": self.key, "type": self.type, "old": self.old, "new": self.new, "how": self.how, "note": self.note}


@dataclass
class Plan:
    """What a patch will do to one file."""

    path: Path
    changes: list[Change]
    edits: list[tuple[int, bytes]] = field(default_factory=list, repr=False)  # in-place: (offset, new bytes)
    write_bytes: int = 0
    data_offset: int = 0  # where tensor data starts, as planned
    layout: list[tuple[str, int, int]] = field(default_factory=list, repr=False)  # (tensor, offset, bytes), as planned

    @property
    def mode(self) -> str:
        hows = {c.how for c in self.changes} - {"unchanged"}
        return "none" if not hows else "rewrite" if "rewrite" in hows else "in-place"

    def describe(self) -> str:
        lines = [c.describe() for c in self.changes]
        verb = {"none": "nothing to change", "in-place": "in place", "rewrite": "rewrite of the file"}[self.mode]
        lines.append(f"{self.path.name}: {verb}, {self.write_bytes:,} bytes to write")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "mode": self.mode, "write_bytes": self.write_bytes,
                "changes": [c.to_dict() for c in self.changes]}


@dataclass
class Result:
    plan: Plan
    applied: bool
    verified: list[str] = field(default_factory=list)  # what was checked after writing
    backup: Path | None = None
    recovered: bool = False  # an interrupted earlier patch was rolled back first

    def to_dict(self) -> dict:
        return {**self.plan.to_dict(), "applied": self.applied, "verified": self.verified,
                "backup": str(self.backup) if self.backup else None, "recovered": self.recovered}


# ---------------------------------------------------------------------------- values


def parse_value(text: str, type_name: str | None):
    """A ``--set`` value in the key's type; ``type_name`` None (a new key) infers bool, int, float, str."""
    if type_name is None:
        low = text.lower()
        if low in ("true", "false"):
            return low == "true", "bool"
        for conv in (int, float):
            try:
                value = conv(text)
            except ValueError:
                continue
            return value, _new_key_type(value)
        return text, "string"
    if type_name == "bool":
        if text.lower() not in ("true", "false", "1", "0"):
            raise InputError(f"expected true or false for a bool key, got {text!r}")
        return text.lower() in ("true", "1"), type_name
    if type_name in _INT_RANGES:
        try:
            return int(text, 0), type_name
        except ValueError:
            raise InputError(f"expected an integer for a {type_name} key, got {text!r}") from None
    if type_name in _FLOATS:
        try:
            return float(text), type_name
        except ValueError:
            raise InputError(f"expected a number for a {type_name} key, got {text!r}") from None
    if type_name == "string":
        return text, type_name
    raise InputError(f"cannot set a {type_name} key from the command line; arrays are changed through the API")


def _check_fits(key: str, value, type_name: str) -> None:
    if type_name in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{key} is {type_name}; {value!r} is not an integer")
        lo, hi = _INT_RANGES[type_name]
        if not lo <= value <= hi:
            raise InputError(f"{key} is {type_name}; {value} does not fit ({lo}..{hi})")
    elif type_name == "bool" and not isinstance(value, bool):
        raise InputError(f"{key} is bool; {value!r} is not true/false")
    elif type_name in _FLOATS and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InputError(f"{key} is {type_name}; {value!r} is not a number")
    elif type_name == "string" and not isinstance(value, str):
        raise InputError(f"{key} is a string; {value!r} is not")


def _pack(dtype, value) -> bytes:
    """``value`` as one little-endian item of ``dtype``: ``(<u4, 7) -> b"\\x07\\0\\0\\0"``."""
    return np.array([value], dtype=dtype).tobytes()


def _value_type(gguf, name: str):
    return gguf.GGUFValueType[name.upper()]


def padded_template(old_len: int, new: str) -> str | None:
    """``new`` padded with a Jinja comment to exactly ``old_len`` UTF-8 bytes, or None when it cannot be."""
    gap = old_len - len(new.encode("utf-8"))
    if gap < 4:
        return None
    return new + "{#" + " " * (gap - 4) + "#}"


def _renders_same(a: str, b: str) -> bool:
    """HF renders ``a`` and ``b`` identically (or with the same error) on every suite conversation."""
    from workbench.chat.render import TemplateError, render
    from workbench.chat.suite import SUITE

    for case in SUITE:
        outs = []
        for t in (a, b):
            try:
                outs.append(render(t, case.messages, tools=case.tools, add_generation_prompt=case.add_generation_prompt))
            except TemplateError as e:
                outs.append(f"error: {e}")
        if outs[0] != outs[1]:
            return False
    return True


# ---------------------------------------------------------------------------- planning


def plan(path: str | os.PathLike[str], values: Mapping[str, object], *, remove: Sequence[str] = ()) -> list[Plan]:
    """One :class:`Plan` per file of the set that a change touches (none are applied)."""
    info = inspect(path)
    by_file: dict[Path, list[tuple[str, object]]] = {}
    first = info.files[0].path
    for key in remove:
        if key not in info.keys:
            raise InputError(f"{first}: no key {key!r} to remove")
    for key in [*values, *remove]:
        if key.startswith("GGUF.") or key in ("general.architecture", "general.alignment") or key.startswith("split."):
            raise InputError(f"{key} describes the file's layout and cannot be patched")
    for key, value in values.items():
        holder = next((f.path for f in info.files if key in f.keys), first)
        by_file.setdefault(holder, []).append((key, value))
    for key in remove:
        holder = next(f.path for f in info.files if key in f.keys)
        by_file.setdefault(holder, []).append((key, None))

    plans = []
    headers = {f.path: f.header for f in info.files}
    for file_path, items in by_file.items():
        h = headers[file_path]
        changes, edits = [], []
        for key, value in items:
            f = h.fields.get(key)
            if f is None:
                if value is None:
                    continue
                type_name = _new_key_type(value)
                if type_name is None:
                    raise InputError(f"{key}: new keys take a bool, int, float or string")
                changes.append(Change(key, None, value, type_name, "rewrite", "new key"))
                continue
            type_name = f.type_name
            if f.count is not None:
                old = h.array(key)
                if value is None:
                    changes.append(Change(key, f"{len(old)} items", None, type_name, "rewrite", "key removed"))
                    continue
                if not isinstance(value, list):
                    raise InputError(f"{key} is an array; pass a list")
                if value == old:
                    changes.append(Change(key, f"{len(old)} items", f"{len(value)} items", type_name, "unchanged"))
                elif f.sub_type in value_types()[1] and len(value) == len(old):
                    dtype = value_types()[1][f.sub_type]
                    item_type = type_name[len("array["):-1]
                    for i, v in enumerate(value):
                        if v != old[i]:
                            _check_fits(f"{key}[{i}]", v, item_type)
                            edits.append((f.offset + i * dtype.itemsize, _pack(dtype, v)))
                    changes.append(Change(key, f"{len(old)} items", f"{sum(a != b for a, b in zip(old, value))} changed",
                                          type_name, "in-place"))
                else:
                    changes.append(Change(key, f"{len(old)} items", f"{len(value)} items", type_name,
                                          "rewrite", "array length or string items change"))
                continue
            old = f.value
            if value is None:
                changes.append(Change(key, old, None, type_name, "rewrite", "key removed"))
                continue
            _check_fits(key, value, type_name)
            if value == old:
                changes.append(Change(key, old, value, type_name, "unchanged"))
                continue
            if type_name != "string":
                edits.append((f.offset, _pack(value_types()[1][f.type], value)))
                changes.append(Change(key, old, value, type_name, "in-place"))
                continue
            new_bytes = value.encode("utf-8")
            old_len = len(old.encode("utf-8"))
            note = ""
            if len(new_bytes) != old_len and key == TEMPLATE_KEY:
                padded = padded_template(old_len, value)
                if padded is not None and _renders_same(value, padded):
                    new_bytes = padded.encode("utf-8")
                    note = f"padded to the old length with a {old_len - len(value.encode())}-byte Jinja comment"
            if len(new_bytes) == old_len:
                edits.append((f.offset + 8, new_bytes))
                changes.append(Change(key, old, value, type_name, "in-place", note))
            else:
                changes.append(Change(key, old, value, type_name, "rewrite",
                                      f"{len(new_bytes):,} bytes where the old value has {old_len:,}"))
        p = Plan(file_path, changes, edits, data_offset=h.data_offset, layout=_layout(h))
        p.write_bytes = sum(len(b) for _, b in edits) if p.mode == "in-place" else \
            (file_path.stat().st_size if p.mode == "rewrite" else 0)
        plans.append(p)
    return plans


def _new_key_type(value) -> str | None:
    """The GGUF type a new key gets from its Python value (as ``parse_value`` infers it from text)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int32" if value < 0 else "uint32"
    return {float: "float32", str: "string"}.get(type(value))


# ---------------------------------------------------------------------------- apply


def _writable(path: Path) -> None:
    # no write bit for anyone counts as read-only even for root, who os.access lets through
    if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222:
        raise InputError(f"{path}: read-only file; nothing was changed")
    if not os.access(path.parent, os.W_OK):
        raise InputError(f"{path.parent}: folder is read-only; nothing was changed")


def _save_backup(path: Path, header_bytes: int) -> Path:
    target = backup_path(path)
    if target.exists():
        return target  # the oldest header is the one worth keeping
    from workbench.files import atomic_path

    with open(path, "rb") as src, atomic_path(target) as tmp:
        header = src.read(header_bytes)
        meta = json.dumps({"file": path.name, "header_bytes": header_bytes, "size": path.stat().st_size,
                           "sha256": hashlib.sha256(header).hexdigest()}).encode() + b"\n"
        tmp.write_bytes(meta + header)
    fsync_dir(target)
    return target


def _rewrite(p: Plan, values: Mapping[str, object], remove: Sequence[str], *, header: bytes | None = None,
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
        arch = reader.get_field("general.architecture")
        w = gguf.GGUFWriter(tmp, arch=arch.contents() if arch else "unknown")
        w.data_alignment = int(reader.alignment)
        for name, f in reader.fields.items():
            if name.startswith("GGUF.") or name == "general.architecture" or name in remove:
                continue
            sub = f.types[-1] if f.types[0] == gguf.GGUFValueType.ARRAY else None
            value = values[name] if name in values else f.contents()
            w.add_key_value(name, value, f.types[0], sub_type=sub)
        for name, value in values.items():
            if reader.get_field(name) is None:
                w.add_key_value(name, value, _value_type(gguf, next(c.type for c in p.changes if c.key == name)))
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
                    chunk = _copy_chunk(src, out, min(CHUNK, left))
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


def _copy_chunk(src, out, n: int) -> bytes:
    chunk = src.read(n)
    if len(chunk) != n:
        raise InputError(f"{src.name}: truncated tensor data (wanted {n:,} bytes at {src.tell():,})")
    out.write(chunk)
    return chunk


def _tensor_digest(path: Path) -> tuple[str, list[tuple[str, int]]]:
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


def _check_values(path: Path, values: Mapping[str, object], remove: Sequence[str]) -> list[str]:
    h = read_header(path)
    done = []
    try:
        for key, want in values.items():
            f = h.fields.get(key)
            got = None if f is None else h.array(key) if f.count is not None else f.value
            if isinstance(got, float) and isinstance(want, (int, float)):
                ok = abs(got - want) <= 1e-6 * max(1.0, abs(want))
            elif key == TEMPLATE_KEY and isinstance(got, str) and got != want:
                ok = got.startswith(want) and got[len(want):].startswith("{#") and got.endswith("#}")
            else:
                ok = got == want
            if not ok:
                shown = f"{len(got)} items" if isinstance(got, list) else repr(got)
                raise WorkbenchError(f"{path}: after patching, {key} reads {shown}, not the value written")
            done.append(f"{key} re-read")
        for key in remove:
            if key in h.fields:
                raise WorkbenchError(f"{path}: {key} is still present after removal")
            done.append(f"{key} absent")
    finally:
        h.close()
    return done


def _llama_check(first: Path, values: Mapping[str, object]) -> list[str]:
    """llama.cpp loads the file (vocab only) and sees the new EOS and template."""
    from workbench.llamacpp import LlamaRefusal, vocab

    try:
        llm = vocab(first)
    except LlamaRefusal as e:
        raise WorkbenchError(f"{first}: llama.cpp cannot load the patched file: {e.reason}") from e
    done = ["llama.cpp loads it (vocab_only)"]
    eos = values.get("tokenizer.ggml.eos_token_id")
    if eos is not None:
        if llm.token_eos() != eos:
            raise WorkbenchError(f"{first}: llama.cpp reports EOS {llm.token_eos()}, expected {eos}")
        done.append(f"llama.cpp EOS = {eos}")
    types = values.get("tokenizer.ggml.token_type")
    if types is not None:
        user = [i for i, t in enumerate(types) if t == 4]  # USER_DEFINED survives plain detokenization
        lost = [i for i in user if not llm.detokenize([i], special=False)]
        if lost:
            raise WorkbenchError(f"{first}: llama.cpp still drops token(s) {lost[:5]} from plain text")
        done.append(f"llama.cpp keeps {len(user)} USER_DEFINED token(s) in plain text")
    template = values.get(TEMPLATE_KEY)
    if template is not None:
        seen = llm.meta(TEMPLATE_KEY) or ""
        if not seen.startswith(template):
            raise WorkbenchError(f"{first}: llama.cpp reads a different chat template")
        done.append("llama.cpp reads the new template")
    llm.close()
    return done


def patch(
    path: str | os.PathLike[str],
    values: Mapping[str, object],
    *,
    remove: Sequence[str] = (),
    dry_run: bool = False,
    backup: bool = False,
    progress: bool = True,
    llama_check: bool = True,
    wait: float | None = None,
) -> list[Result]:
    """Set ``values`` (key -> new value; types kept) and remove keys in the file(s) of ``path``.

    The whole run holds the write lock on every file of the set (:mod:`workbench.gguffile.lock`):
    another writer is refused at once, or waited for up to ``wait`` seconds.
    """
    members = split_members(path)
    with nullcontext() if dry_run else writing(members, wait=wait):
        return _patch(members, values, remove, dry_run=dry_run, backup=backup, progress=progress,
                      llama_check=llama_check)


def _patch(members: list[Path], values, remove, *, dry_run, backup, progress, llama_check) -> list[Result]:
    path = members[0]
    recovered = any([recover(m) for m in members]) if not dry_run else False
    plans = plan(path, values, remove=remove)
    results = []
    for p in plans:
        mine = {k: v for k, v in values.items() if any(c.key == k for c in p.changes)}
        gone = [k for k in remove if any(c.key == k for c in p.changes)]
        if dry_run or p.mode == "none":
            results.append(Result(p, applied=False, recovered=recovered))
            continue
        _writable(p.path)
        saved = _save_backup(p.path, p.data_offset) if backup else None
        if p.mode == "in-place":
            results.append(_finish_in_place(p, mine, gone, members[0], saved, recovered, llama_check))
        else:
            results.append(_finish_rewrite(p, mine, gone, members[0], saved, recovered, llama_check, progress))
    return results


def _finish_in_place(p: Plan, values, remove, first: Path, saved, recovered, llama_check) -> Result:
    apply_edits(p.path, p.edits)
    try:
        verified = _check_values(p.path, values, remove)
        if _tensor_layout(p.path) != p.layout:
            raise WorkbenchError(f"{p.path}: tensor offsets moved")
        verified.append("tensor offsets unchanged")
        if llama_check:
            verified += _llama_check(first, values)
    except BaseException:
        recover(p.path)
        raise
    commit(p.path)
    return Result(p, True, verified, saved, recovered)


def _finish_rewrite(p: Plan, values, remove, first: Path, saved, recovered, llama_check, progress) -> Result:
    tmp, digest = _rewrite(p, values, remove, progress=progress)  # digest: the source's tensor bytes, as copied
    try:
        verified = _check_values(tmp, values, remove)
        new_digest, new_layout = _tensor_digest(tmp)
        if new_digest != digest:
            raise WorkbenchError(f"{p.path}: tensor data differs after the rewrite; the original is kept")
        if new_layout != _relative(p.layout, p.data_offset):
            raise WorkbenchError(f"{p.path}: tensor layout differs after the rewrite; the original is kept")
        verified.append(f"tensor data sha256 equal ({digest[:12]}…), relative offsets unchanged")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    keep = old_link(p.path)
    keep.unlink(missing_ok=True)
    os.link(p.path, keep)
    os.replace(tmp, p.path)
    fsync_dir(p.path)
    try:
        if llama_check:
            verified += _llama_check(first, values)
    except BaseException:
        os.replace(keep, p.path)
        fsync_dir(p.path)
        raise
    keep.unlink()
    return Result(p, True, verified, saved, recovered)


def _layout(h) -> list[tuple[str, int, int]]:
    """(name, absolute offset, bytes) of every tensor of an indexed header."""
    return [(t.name, h.data_offset + t.rel_offset, t.n_bytes) for t in h.tensors]


def _relative(layout: list[tuple[str, int, int]], data_offset: int) -> list[tuple[str, int]]:
    """(name, offset from the data start), in file order: what :func:`_tensor_digest` reports."""
    return sorted(((name, off - data_offset) for name, off, _ in layout), key=lambda t: t[1])


def _tensor_layout(path: Path) -> list[tuple[str, int, int]]:
    """(name, absolute offset, bytes) of every tensor, read again from the file's header."""
    h = read_header(path)
    layout = _layout(h)
    h.close()
    return layout


# ---------------------------------------------------------------------------- restore


def restore(path: str | os.PathLike[str], *, progress: bool = True, wait: float | None = None) -> list[Path]:
    """Roll back an interrupted patch, and put back the header saved by ``backup=True``, in every file
    of the set; returns the files changed. Holds the write lock on the set, like :func:`patch`."""
    members = split_members(path)
    with writing(members, wait=wait):
        return _restore(path, members, progress)


def _restore(path, members: list[Path], progress: bool) -> list[Path]:
    done = []
    for member in members:
        if recover(member):
            done.append(member)
        saved = backup_path(member)
        if not saved.exists():
            continue
        head, _, header = saved.read_bytes().partition(b"\n")
        try:
            meta = json.loads(head)
            intact = hashlib.sha256(header).hexdigest() == meta["sha256"] and len(header) == meta["header_bytes"]
        except (ValueError, KeyError, TypeError):
            intact = False
        if not intact:
            raise InputError(f"{saved}: damaged backup (checksum mismatch); nothing was changed")
        _writable(member)
        h = read_header(member)
        h.close()
        if h.data_offset == len(header):
            apply_edits(member, [(0, header)])
            commit(member)
        else:
            tmp, digest = _rewrite(Plan(member, []), {}, (), header=header, progress=progress)
            if _tensor_digest(tmp)[0] != digest:
                tmp.unlink(missing_ok=True)
                raise WorkbenchError(f"{member}: tensor data differs after restoring; the patched file is kept")
            os.replace(tmp, member)
        fsync_dir(member)
        saved.unlink()
        if member not in done:
            done.append(member)
    if not done:
        raise InputError(f"{path}: no backup to restore (patch with --backup keeps one)")
    return done


__all__ = ["Change", "Plan", "Result", "parse_value", "patch", "plan", "recover", "restore"]
