"""Inspect a GGUF file or split set from its headers: keys, tensors, totals, tokenizer.

``inspect(path)`` opens every file of the set ``path`` belongs to (``X-00002-of-00008.gguf``
finds its seven siblings) and indexes its header (:mod:`workbench.gguffile`): tensor
data is never read, long arrays are decoded only when asked for, so a 400 GB set costs
milliseconds.

    >>> info = inspect("Kimi-K2-Instruct-UD-Q2_K_XL-00001-of-00008.gguf")    # doctest: +SKIP
    >>> info.total_bytes, info.by_role()["routed-experts"], info.key_file["tokenizer.chat_template"]   # doctest: +SKIP

Roles group tensors the way offload decisions do: ``routed-experts`` (``*_exps``),
``shared-experts`` (``*_shexp``), ``router`` (``ffn_gate_inp``, ``exp_probs_b``),
``attention``, ``dense-ffn`` (block-0 style FFN), ``embeddings``, ``output``, ``norm``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gguf import Keys

from workbench.errors import InputError
from workbench.gguffile import Header, read_header
from workbench.gguffile.splits import member_names
from workbench.units import format_size

ARRAY_PREVIEW = 8

_ROLES = (
    (re.compile(r"_exps\."), "routed-experts"),
    (re.compile(r"_shexp\."), "shared-experts"),
    (re.compile(r"ffn_gate_inp\.|exp_probs_b"), "router"),
    (re.compile(r"_norm\."), "norm"),
    (re.compile(r"\.attn_"), "attention"),
    (re.compile(r"\.ffn_(gate|up|down)\."), "dense-ffn"),
    (re.compile(r"^token_embd\."), "embeddings"),
    (re.compile(r"^output\."), "output"),
)


def role_of(name: str) -> str:
    """The offload role of a tensor by its GGUF name: ``blk.3.ffn_up_exps.weight -> routed-experts``."""
    for rx, role in _ROLES:
        if rx.search(name):
            return role
    return "other"


@dataclass(frozen=True)
class KeyInfo:
    name: str
    type: str  # "uint32", "string", "array[string]", …
    value: object = field(repr=False)  # arrays: the first items only (GGUFInfo.array has them all)
    length: int | None = None  # arrays

    def summary(self, limit: int = 80) -> str:
        if self.length is not None:
            head = ", ".join(repr(v) for v in self.value[:ARRAY_PREVIEW])
            return f"[{head}{', …' if self.length > ARRAY_PREVIEW else ''}] ({self.length:,} items)"
        text = repr(self.value)
        return text if len(text) <= limit else f"{text[:limit]}… ({len(self.value):,} chars)"

    def to_dict(self) -> dict:
        if self.length is not None:
            return {"name": self.name, "type": self.type, "length": self.length, "head": self.value[:ARRAY_PREVIEW]}
        return {"name": self.name, "type": self.type, "value": self.value}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    type: str  # GGML type name: "Q2_K", "F32", …
    shape: tuple[int, ...]  # GGUF order (fastest dimension first), as llama.cpp prints it
    n_bytes: int
    offset: int  # absolute, in its file
    file: str
    role: str

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "shape": list(self.shape), "bytes": self.n_bytes,
                "offset": self.offset, "file": self.file, "role": self.role}


@dataclass(frozen=True)
class FileInfo:
    path: Path
    version: int
    alignment: int
    data_offset: int  # where tensor data starts: everything before it is the header
    size: int
    keys: dict[str, KeyInfo]
    tensors: list[TensorInfo]
    header: Header = field(repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "version": self.version, "alignment": self.alignment,
                "header_bytes": self.data_offset, "size": self.size, "n_keys": len(self.keys),
                "n_tensors": len(self.tensors)}


@dataclass
class GGUFInfo:
    """One GGUF file or a whole split set, from the headers."""

    files: list[FileInfo]
    #: for a remote set: the bytes and requests that went over the wire (a workbench.gguffile.remote.Transfer)
    transfer: object = None

    @property
    def path(self) -> Path:
        return self.files[0].path

    @property
    def keys(self) -> dict[str, KeyInfo]:
        out: dict[str, KeyInfo] = {}
        for f in self.files:
            for k, v in f.keys.items():
                out.setdefault(k, v)
        return out

    @property
    def key_file(self) -> dict[str, str]:
        """Key -> the name of the first file that holds it (tokenizer keys live in split 1)."""
        out: dict[str, str] = {}
        for f in self.files:
            for k in f.keys:
                out.setdefault(k, f.path.name)
        return out

    @property
    def tensors(self) -> list[TensorInfo]:
        return [t for f in self.files for t in f.tensors]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def tensor_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    def value(self, key: str, default=None):
        k = self.keys.get(key)
        return k.value if k is not None and k.length is None else default

    def array(self, key: str) -> list:
        """Every item of an array key, from the first file that holds it."""
        return self._holder(key).array(key)

    def strings(self, key: str) -> list[str]:
        """An array key read as text (the token list); another item type is a one-line error."""
        return self._holder(key).strings(key)

    def ints(self, key: str) -> list[int]:
        """An array key read as integers (token types); another item type is a one-line error."""
        return self._holder(key).ints(key)

    def _holder(self, key: str) -> Header:
        for f in self.files:
            if key in f.keys:
                return f.header
        raise KeyError(key)

    def by_type(self) -> dict[str, int]:
        """GGML type -> bytes, largest first."""
        return _totals(self.tensors, lambda t: t.type)

    def by_role(self) -> dict[str, int]:
        """Role -> bytes, largest first."""
        return _totals(self.tensors, lambda t: t.role)

    def tokenizer(self) -> dict:
        """A summary of the tokenizer keys: model, pre, size, bos/eos/pad (id and text), template."""
        tokens = self.keys.get(Keys.Tokenizer.LIST)
        holder = next((f.header for f in self.files if Keys.Tokenizer.LIST in f.keys), None)
        out: dict = {"model": self.value(Keys.Tokenizer.MODEL), "pre": self.value(Keys.Tokenizer.PRE),
                     "n_tokens": tokens.length if tokens else None}
        for role, key in (("bos", Keys.Tokenizer.BOS_ID), ("eos", Keys.Tokenizer.EOS_ID), ("pad", Keys.Tokenizer.PAD_ID)):
            tid = self.value(key)
            ok = holder is not None and isinstance(tid, int) and 0 <= tid < tokens.length
            out[role] = {"id": tid, "content": holder.item(Keys.Tokenizer.LIST, tid) if ok else None}
        template = self.value(Keys.Tokenizer.CHAT_TEMPLATE)
        out["chat_template_chars"] = len(template) if isinstance(template, str) else None
        return out

    def format(self, *, tensors: bool = False) -> str:
        """Files, totals by type and role, the tokenizer, every key (and every tensor when asked)."""
        first = self.files[0]
        lines = [f"{self.path}: GGUF v{first.version}, alignment {first.alignment}, {len(self.files)} file(s), "
                 f"{format_size(self.total_bytes)}, {len(self.keys)} keys, {len(self.tensors):,} tensors"]
        lines += [f"  {f.path.name}: {format_size(f.size)}, header {format_size(f.data_offset)}, {len(f.keys)} keys, "
                  f"{len(f.tensors)} tensors" for f in self.files]
        if self.tensors:
            lines.append("by type:  " + ", ".join(f"{k} {format_size(v)}" for k, v in self.by_type().items()))
            lines.append("by role:  " + ", ".join(f"{k} {format_size(v)}" for k, v in self.by_role().items()))
        tok = self.tokenizer()
        if tok["n_tokens"]:
            lines.append(f"tokenizer: {tok['model']} / pre {tok['pre']}, {tok['n_tokens']:,} tokens, "
                         + ", ".join(f"{r} {tok[r]['id']} {tok[r]['content']!r}" for r in ("bos", "eos", "pad"))
                         + f", template {tok['chat_template_chars'] or 0:,} chars")
        holders = self.key_file
        lines.append("keys:")
        for k in self.keys.values():
            where = f"  [{holders[k.name]}]" if len(self.files) > 1 else ""
            lines.append(f"  {k.name:<44} {k.type:<14} {k.summary()}{where}")
        if tensors:
            lines.append("tensors:")
            for t in self.tensors:
                shape = "x".join(str(d) for d in t.shape)
                lines.append(f"  {t.name:<36} {t.type:<8} {shape:<22} {format_size(t.n_bytes):>12}  @{t.offset:,}  {t.role}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "files": [f.to_dict() for f in self.files],
            "total_bytes": self.total_bytes,
            "tensor_bytes": self.tensor_bytes,
            "n_tensors": len(self.tensors),
            "keys": [k.to_dict() for k in self.keys.values()],
            "key_file": self.key_file,
            "by_type": self.by_type(),
            "by_role": self.by_role(),
            "tokenizer": self.tokenizer(),
            "tensors": [t.to_dict() for t in self.tensors],
        }


def _totals(tensors, key) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tensors:
        out[key(t)] = out.get(key(t), 0) + t.n_bytes
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def split_members(path: str | os.PathLike[str]) -> list[Path]:
    """All files of the split set ``path`` belongs to, in order; ``[path]`` for a single file.

    A missing member is an :class:`InputError` naming it; so is a remote address (what takes one reads
    headers only: :func:`inspect`, the planner, ``verify``), since everything else works on files on disk.
    """
    from workbench.gguffile.remote import is_url

    if is_url(path):
        raise InputError(f"{path}: a remote file; this works on files on disk (download it first; inspect, plan "
                         "and verify read remote headers)")
    p = Path(path)
    members = member_names(p)
    if members is None:
        return [p]
    missing = [q.name for q in members if not q.is_file()]
    if missing:
        raise InputError(f"{p}: split set incomplete, missing {', '.join(missing[:3])}"
                         f"{f' and {len(missing) - 3} more' if len(missing) > 3 else ''}")
    return members


def read_file(path: Path, header: Header | None = None) -> FileInfo:
    h = header if header is not None else read_header(path)
    keys = {}
    for name, f in h.fields.items():
        if f.count is not None:
            head = [h.item(name, i) for i in range(min(ARRAY_PREVIEW, f.count))]
            keys[name] = KeyInfo(name, f.type_name, head, f.count)
        else:
            keys[name] = KeyInfo(name, f.type_name, f.value)
    tensors = [TensorInfo(t.name, _ggml_name(t.type), t.shape, t.n_bytes, h.data_offset + t.rel_offset, path.name,
                          role_of(t.name)) for t in h.tensors]
    return FileInfo(path, h.version, h.alignment, h.data_offset, h.size, keys, tensors, h)


def _ggml_name(code: int) -> str:
    import gguf

    return gguf.GGMLQuantizationType(code).name


def inspect(path: str | os.PathLike[str], *, progress=None) -> GGUFInfo:
    """Headers of ``path`` and, when it is one file of a split set, of every other member.

    ``path`` may be remote (:mod:`workbench.gguffile.remote`): an ``http(s)://`` URL of any member of a
    set, or ``hf://OWNER/REPO/PATH`` where PATH is a file or a quant folder. The headers are read by
    range requests, all members in parallel, or from the header cache; ``progress(done, total, name)``
    is called as each arrives, and :attr:`GGUFInfo.transfer` says how many bytes came over the wire.
    """
    from workbench.gguffile.remote import is_url

    if is_url(path):
        return _inspect_remote(str(path), progress)
    files = [read_file(p) for p in split_members(path)]  # each waits out a live patch, refuses an abandoned one
    count = files[0].keys.get(Keys.Split.LLM_KV_SPLIT_COUNT)
    if count is not None and count.value != len(files):
        raise InputError(f"{files[0].path}: split.count is {count.value} but {len(files)} file(s) were found")
    return GGUFInfo(files)


def _inspect_remote(url: str, progress=None) -> GGUFInfo:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from workbench.gguffile.remote import Transfer, Url, hub_filesystem, read_remote_header, resolve

    fs = hub_filesystem() if Url(url).hub else None
    first = resolve(url, fs=fs)
    members = member_names(first) or [first]
    transfer = Transfer()
    headers = {}
    with ThreadPoolExecutor(max_workers=min(8, len(members))) as pool:
        futures = {pool.submit(read_remote_header, u, transfer=transfer, fs=fs): u for u in members}
        try:
            for done, future in enumerate(as_completed(futures), 1):
                headers[futures[future]] = future.result()
                if progress is not None:
                    progress(done, len(members), futures[future].name)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    files = [read_file(u, headers[u]) for u in members]
    count = files[0].keys.get(Keys.Split.LLM_KV_SPLIT_COUNT)
    if count is not None and count.value != len(files):
        raise InputError(f"{first}: split.count is {count.value} but the name says {len(files)} file(s)")
    return GGUFInfo(files, transfer=transfer)
