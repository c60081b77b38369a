"""The header a patch can keep aside (``PATH.wb-backup``) and :func:`restore`, which puts it back.

``save_backup`` writes the bytes before tensor data, with their length and sha256, atomically;
the oldest backup is the one kept. :func:`restore` rolls back an interrupted patch and writes
the saved header back: in place when the header length is unchanged, else by a rewrite. It
holds the write lock on the set, like :func:`workbench.ggufio.patch`.

Not here: deciding to back up (``patch(backup=True)``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from workbench.errors import InputError, WorkbenchError
from workbench.files import atomic_path
from workbench.gguffile import read_header, writing
from workbench.ggufio.inspect import split_members
from workbench.ggufio.journal import apply_edits, commit, fsync_dir, recover
from workbench.ggufio.plan import Plan
from workbench.ggufio.rewrite import rewrite, tensor_digest

BACKUP_SUFFIX = ".wb-backup"


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def save_backup(path: Path, header_bytes: int) -> Path:
    target = backup_path(path)
    if target.exists():
        return target  # the oldest header is the one worth keeping
    with open(path, "rb") as src, atomic_path(target) as tmp:
        header = src.read(header_bytes)
        meta = json.dumps({"file": path.name, "header_bytes": header_bytes, "size": path.stat().st_size,
                           "sha256": hashlib.sha256(header).hexdigest()}).encode() + b"\n"
        tmp.write_bytes(meta + header)
    fsync_dir(target)
    return target


def writable(path: Path) -> None:
    # no write bit for anyone counts as read-only even for root, who os.access lets through
    if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222:
        raise InputError(f"{path}: read-only file; nothing was changed")
    if not os.access(path.parent, os.W_OK):
        raise InputError(f"{path.parent}: folder is read-only; nothing was changed")


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
        writable(member)
        h = read_header(member)
        h.close()
        if h.data_offset == len(header):
            apply_edits(member, [(0, header)])
            commit(member)
        else:
            tmp, digest = rewrite(Plan(member, []), {}, (), header=header, progress=progress)
            if tensor_digest(tmp)[0] != digest:
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
