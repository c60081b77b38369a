"""What a patch will do to each file of a set, before anything is written: in place or a rewrite, and the bytes.

``plan(path, {key: value})`` reads the headers and decides per change: a scalar keeps its
GGUF type and is overwritten where it lies; a string of the same UTF-8 length likewise; a
shorter chat template is padded with a Jinja comment when ``renders_same(new, padded)`` says
the two render alike (the caller's check: the GGUF tools do not run templates); anything else
is a rewrite of the one file that holds the key (new keys go to split 1).

    >>> [c.how for p in plan("model.gguf", {"tokenizer.ggml.eos_token_id": 163586}) for c in p.changes]  # doctest: +SKIP
    ['in-place']

Not here: writing (:mod:`.patch`, :mod:`.rewrite`, :mod:`.journal`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gguf import Keys

from workbench.errors import InputError
from workbench.gguffile import value_types
from workbench.ggufio.inspect import inspect
from workbench.ggufio.values import TEMPLATE_KEY, check_fits, new_key_type, pack, padded_template

_SPLIT_KEYS = Keys.Split.LLM_KV_SPLIT_NO.split(".")[0] + "."  # "split.": the set's own bookkeeping
#: ``renders_same(a, b)``: whether two template texts render alike (the caller's judgement)
RendersSame = Callable[[str, str], bool]


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


def plan(path: str | os.PathLike[str], values: Mapping[str, object], *, remove: Sequence[str] = (),
         renders_same: RendersSame | None = None) -> list[Plan]:
    """One :class:`Plan` per file of the set that a change touches (none are applied).

    Without ``renders_same`` a shorter chat template is a rewrite, never padded.
    """
    info = inspect(path)
    by_file: dict[Path, list[tuple[str, object]]] = {}
    first = info.files[0].path
    for key in remove:
        if key not in info.keys:
            raise InputError(f"{first}: no key {key!r} to remove")
    for key in [*values, *remove]:
        if key.startswith("GGUF.") or key in (Keys.General.ARCHITECTURE, Keys.General.ALIGNMENT) or key.startswith(_SPLIT_KEYS):
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
                type_name = new_key_type(value)
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
                            check_fits(f"{key}[{i}]", v, item_type)
                            edits.append((f.offset + i * dtype.itemsize, pack(dtype, v)))
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
            check_fits(key, value, type_name)
            if value == old:
                changes.append(Change(key, old, value, type_name, "unchanged"))
                continue
            if type_name != "string":
                edits.append((f.offset, pack(value_types()[1][f.type], value)))
                changes.append(Change(key, old, value, type_name, "in-place"))
                continue
            new_bytes = value.encode("utf-8")
            old_len = len(old.encode("utf-8"))
            note = ""
            if len(new_bytes) != old_len and key == TEMPLATE_KEY:
                padded = padded_template(old_len, value)
                if padded is not None and renders_same is not None and renders_same(value, padded):
                    new_bytes = padded.encode("utf-8")
                    note = f"padded to the old length with a {old_len - len(value.encode())}-byte Jinja comment"
            if len(new_bytes) == old_len:
                edits.append((f.offset + 8, new_bytes))
                changes.append(Change(key, old, value, type_name, "in-place", note))
            else:
                changes.append(Change(key, old, value, type_name, "rewrite",
                                      f"{len(new_bytes):,} bytes where the old value has {old_len:,}"))
        p = Plan(file_path, changes, edits, data_offset=h.data_offset, layout=layout(h))
        p.write_bytes = sum(len(b) for _, b in edits) if p.mode == "in-place" else \
            (file_path.stat().st_size if p.mode == "rewrite" else 0)
        plans.append(p)
    return plans


def layout(h) -> list[tuple[str, int, int]]:
    """(name, absolute offset, bytes) of every tensor of an indexed header."""
    return [(t.name, h.data_offset + t.rel_offset, t.n_bytes) for t in h.tensors]
