"""Patch GGUF metadata without a re-download: in place when the bytes fit, else a safe rewrite.

``patch(path, {"tokenizer.ggml.eos_token_id": 163586})`` plans, applies, verifies:

- **in place** (O(1) in file size): a scalar keeps its GGUF type and is overwritten where it
  lies; a string whose new UTF-8 bytes have the old length likewise; a shorter
  ``tokenizer.chat_template`` is padded to the old length with a Jinja comment
  (``{#   #}``), accepted only when ``renders_same`` says the padded and the unpadded
  template render alike (by default :func:`workbench.chat.renders_same`: HF on the
  conversation suite; the planning and writing modules never run a template);
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

The ideas live one to a module: :mod:`.values` (GGUF types), :mod:`.plan` (what will
change), :mod:`.rewrite` (the streaming copy), :mod:`.confirm` (the checks after a write),
:mod:`.backup` (``backup=True`` keeps the original header in ``PATH.wb-backup``;
:func:`~workbench.ggufio.backup.restore` writes it back). This module runs them in order under
the write lock. Verification after every patch: the new values re-read from
the header, tensor offsets unchanged (rewrite: tensor bytes hashed equal), and llama.cpp
loads the file ``vocab_only`` and reports the new EOS / template.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from workbench.chat.parity import renders_same as hf_renders_same
from workbench.errors import WorkbenchError
from workbench.gguffile import writing
from workbench.ggufio.backup import save_backup, writable
from workbench.ggufio.confirm import confirm_llama, confirm_values, tensor_layout
from workbench.ggufio.inspect import split_members
from workbench.ggufio.journal import apply_edits, commit, fsync_dir, old_link, recover
from workbench.ggufio.plan import Plan, RendersSame, plan
from workbench.ggufio.rewrite import relative, rewrite, tensor_digest


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
    renders_same: RendersSame | None = hf_renders_same,
) -> list[Result]:
    """Set ``values`` (key -> new value; types kept) and remove keys in the file(s) of ``path``.

    The whole run holds the write lock on every file of the set (:mod:`workbench.gguffile.lock`):
    another writer is refused at once, or waited for up to ``wait`` seconds. ``renders_same``
    judges whether a shorter chat template may be padded in place (None: never, a rewrite).
    """
    members = split_members(path)
    with nullcontext() if dry_run else writing(members, wait=wait):
        return _patch(members, values, remove, dry_run=dry_run, backup=backup, progress=progress,
                      llama_check=llama_check, renders_same=renders_same)


def _patch(members: list[Path], values, remove, *, dry_run, backup, progress, llama_check,
           renders_same) -> list[Result]:
    path = members[0]
    recovered = any([recover(m) for m in members]) if not dry_run else False
    plans = plan(path, values, remove=remove, renders_same=renders_same)
    results = []
    for p in plans:
        mine = {k: v for k, v in values.items() if any(c.key == k for c in p.changes)}
        gone = [k for k in remove if any(c.key == k for c in p.changes)]
        if dry_run or p.mode == "none":
            results.append(Result(p, applied=False, recovered=recovered))
            continue
        writable(p.path)
        saved = save_backup(p.path, p.data_offset) if backup else None
        if p.mode == "in-place":
            results.append(_finish_in_place(p, mine, gone, members[0], saved, recovered, llama_check))
        else:
            results.append(_finishrewrite(p, mine, gone, members[0], saved, recovered, llama_check, progress))
    return results


def _finish_in_place(p: Plan, values, remove, first: Path, saved, recovered, llama_check) -> Result:
    apply_edits(p.path, p.edits)
    try:
        verified = confirm_values(p.path, values, remove)
        if tensor_layout(p.path) != p.layout:
            raise WorkbenchError(f"{p.path}: tensor offsets moved")
        verified.append("tensor offsets unchanged")
        if llama_check:
            verified += confirm_llama(first, values)
    except BaseException:
        recover(p.path)
        raise
    commit(p.path)
    return Result(p, True, verified, saved, recovered)


def _finishrewrite(p: Plan, values, remove, first: Path, saved, recovered, llama_check, progress) -> Result:
    tmp, digest = rewrite(p, values, remove, progress=progress)  # digest: the source's tensor bytes, as copied
    try:
        verified = confirm_values(tmp, values, remove)
        new_digest, new_layout = tensor_digest(tmp)
        if new_digest != digest:
            raise WorkbenchError(f"{p.path}: tensor data differs after the rewrite; the original is kept")
        if new_layout != relative(p.layout, p.data_offset):
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
            verified += confirm_llama(first, values)
    except BaseException:
        os.replace(keep, p.path)
        fsync_dir(p.path)
        raise
    keep.unlink()
    return Result(p, True, verified, saved, recovered)


@dataclass
class PatchReport:
    """What a patch, fix or dry run did to each file (``kimi-wb gguf patch`` / ``fix-kimi``)."""

    results: list[Result]
    path: str = ""
    dry_run: bool = False
    already_fixed: str = ""  # fix-kimi with nothing to do: what the file already has

    def to_dict(self) -> list | dict:
        if not self.results and self.already_fixed:
            return {"path": self.path, "already_fixed": True}
        return [r.to_dict() for r in self.results]

    def format(self) -> str:
        if not self.results and self.already_fixed:
            return f"{self.path}: already fixed ({self.already_fixed})"
        lines = []
        for r in self.results:
            lines.append(r.plan.describe())
            if r.recovered:
                lines.append("  rolled back an interrupted earlier patch first")
            if r.applied:
                lines.append(f"  applied ({r.plan.mode}); verified: {', '.join(r.verified)}")
                if r.backup:
                    lines.append(f"  original header kept in {r.backup.name} (kimi-wb gguf restore {r.plan.path})")
            elif self.dry_run:
                lines.append("  dry run: nothing written")
        return "\n".join(lines)


__all__ = ["PatchReport", "Result", "patch", "recover"]
