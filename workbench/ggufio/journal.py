"""Crash-safe in-place writes: a journal of the bytes about to be overwritten, and the rollback.

:func:`apply_edits` first writes the original bytes of every range it will overwrite to
``PATH.wb-journal`` (written to a temp name, fsynced, renamed, folder fsynced), then
overwrites and fsyncs the file. The caller verifies the result and either calls
:func:`commit` (the journal goes) or :func:`recover`. A process killed at any point
leaves the original file, the new one, or a journal from which :func:`recover` puts the
original bytes back; :func:`recover` also sweeps what an interrupted rewrite or backup
leaves beside a file (its temp file, the link it keeps to the old file, a backup header not
yet renamed into place).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence
from pathlib import Path

from workbench.errors import InputError
from workbench.gguffile.lock import journal_path, writing


def rewrite_temp(path: Path) -> Path:
    """Where a rewrite of ``path`` builds the new file."""
    return path.with_name(f".{path.name}.wb-rewrite")


def old_link(path: Path) -> Path:
    """The hard link to the old file a rewrite keeps until the new one is proven."""
    return path.with_name(f".{path.name}.wb-old")


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path``'s folder durable."""
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pwrite_all(fd: int, offset: int, data: bytes) -> None:
    if os.pwrite(fd, data, offset) != len(data):
        raise OSError(f"short write at offset {offset}")


def _write_journal(path: Path, fd: int, edits: Sequence[tuple[int, bytes]]) -> Path:
    """Record the original bytes of every range about to be overwritten; durable before any overwrite."""
    originals = [(off, os.pread(fd, len(new), off)) for off, new in edits]
    head = json.dumps({"file": path.name, "size": path.stat().st_size,
                       "ranges": [[off, len(old)] for off, old in originals]}).encode() + b"\n"
    journal = journal_path(path)
    tmp = journal.with_name(journal.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(head + b"".join(old for _, old in originals))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, journal)
    fsync_dir(journal)
    return journal


def apply_edits(path: Path, edits: Sequence[tuple[int, bytes]]) -> None:
    """Journal, then overwrite each ``(offset, bytes)`` and fsync; the journal stays until :func:`commit`."""
    fd = os.open(path, os.O_RDWR)
    try:
        _write_journal(path, fd, edits)
        for off, data in edits:
            pwrite_all(fd, off, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(path: Path) -> None:
    """The edits are verified: drop the journal."""
    journal_path(path).unlink()
    fsync_dir(path)


def recover(path: str | os.PathLike[str]) -> bool:
    """Roll back an interrupted in-place patch from its journal; True when there was one (under the write lock)."""
    p = Path(path)
    with writing([p]):
        return _recover(p)


def _recover(p: Path) -> bool:
    # a rewrite killed before its rename leaves only a temp file; after it, a link to the old file: both are litter
    rewrite_temp(p).unlink(missing_ok=True)
    old_link(p).unlink(missing_ok=True)
    journal = journal_path(p)
    journal.with_name(journal.name + ".tmp").unlink(missing_ok=True)  # a journal not yet complete: nothing written
    for temp in p.parent.glob(f".{glob.escape(p.name)}.wb-backup.*"):  # a backup header not yet renamed into place
        temp.unlink(missing_ok=True)
    if not journal.exists():
        return False
    raw = journal.read_bytes()
    head, _, body = raw.partition(b"\n")
    try:
        meta = json.loads(head)
        ranges = [(int(o), int(n)) for o, n in meta["ranges"]]
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{journal}: unreadable patch journal ({e}); the file may be half-patched") from e
    if sum(n for _, n in ranges) != len(body):
        raise InputError(f"{journal}: truncated patch journal; the file may be half-patched")
    try:
        fd = os.open(p, os.O_RDWR)
    except OSError as e:
        raise InputError(f"{p}: cannot open to roll back an interrupted patch: {e.strerror}") from e
    try:
        pos = 0
        for off, n in ranges:
            pwrite_all(fd, off, body[pos:pos + n])
            pos += n
        os.fsync(fd)
    finally:
        os.close(fd)
    journal.unlink()
    fsync_dir(journal)
    return True
