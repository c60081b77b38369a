"""One writer at a time, and readers that never see half a patch.

Writers (:func:`writing`): ``patch``, ``fix_kimi``, ``restore`` and ``recover`` hold an
exclusive ``flock`` on a lock file beside each file they may change
(``.NAME.wb-lock``, holding the writer's process id) for their whole run, every member of a
split set at once, in name order. The lock is on a file of its own because a rewrite
renames a new file over the GGUF: a lock on the GGUF's inode would be left behind on the
old one. A second writer is refused at once with ``NAME is being patched by process N``, or
waits up to ``wait`` seconds. The lock file is removed when the lock is released; a
process killed while holding it leaves the file, but the kernel has released the lock, so
the next writer takes it. Locks are re-entrant within a thread (``fix_kimi`` calls
``patch``), and refused to another thread of the same process.

Readers (:func:`consistent`): an in-place patch journals and overwrites a few ranges of
the header, so a reader could see some new bytes and some old. A reader reads only when no
journal is present (a journal with a live writer: it waits for the writer; a journal with
none: an interrupted patch, reported with the fix), and reads again if the file changed
while it read (its inode, size or modification time moved). A rewrite is seen whole, old or
new, because it only ever renames a complete file into place.

    >>> with writing([path]):                 # doctest: +SKIP
    ...     apply_edits(path, edits)

Not here: Windows (``fcntl`` is POSIX; the workbench targets Linux and macOS).
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from workbench.errors import InputError

LOCK_SUFFIX = ".wb-lock"
#: how long a reader waits for a writer that is verifying an in-place patch
READER_WAIT = 60.0
_POLL = 0.05
T = TypeVar("T")


class Busy(InputError):
    """Another writer holds the file."""


def _real(path: str | os.PathLike[str]) -> Path:
    """The file itself, whatever link names it: every alias of a file shares its lock."""
    return Path(os.path.realpath(path))


def lock_path(path: Path) -> Path:
    """``.NAME.wb-lock`` beside the file itself (a symlink's target)."""
    real = _real(path)
    return real.with_name(f".{real.name}{LOCK_SUFFIX}")


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".wb-journal")


# path -> [fd, depth, owning thread]: the locks this process holds
_HELD: dict[Path, list] = {}
_HELD_GUARD = threading.Lock()


def holds(path: Path) -> bool:
    """Whether this thread holds the write lock on ``path``."""
    entry = _HELD.get(_real(path))
    return entry is not None and entry[2] == threading.get_ident()


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


def _acquire(path: Path, wait: float | None) -> None:
    key = _real(path)
    with _HELD_GUARD:
        entry = _HELD.get(key)
        if entry is not None:
            if entry[2] != threading.get_ident():
                raise Busy(f"{path.name} is being patched by another thread of this process")
            entry[1] += 1
            return
    lock = lock_path(key)
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
                raise InputError(f"{path.parent}: folder is read-only; nothing was changed") from None
            raise InputError(f"{lock}: cannot create the lock file: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _holder(fd)
            os.close(fd)
            if deadline is None or time.monotonic() > deadline:
                raise Busy(f"{path.name} is being patched by {who}; nothing was changed"
                           + ("" if deadline is None else f" (waited {wait:g} s)")) from None
            time.sleep(_POLL)
            continue
        # the previous holder may have removed the lock file between our open and our flock
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        with _HELD_GUARD:
            _HELD[key] = [fd, 1, threading.get_ident()]
        return


def _release(path: Path) -> None:
    key = _real(path)
    with _HELD_GUARD:
        entry = _HELD[key]
        entry[1] -= 1
        if entry[1]:
            return
        del _HELD[key]
    lock_path(key).unlink(missing_ok=True)  # while still locked: a waiter that opened it re-opens
    os.close(entry[0])


@contextmanager
def writing(paths: Iterable[str | os.PathLike[str]], *, wait: float | None = None) -> Iterator[None]:
    """Hold the write lock on every path for the block; ``wait`` seconds for another writer (None: refuse at once)."""
    taken: list[Path] = []
    try:
        for p in sorted({Path(p) for p in paths}):
            _acquire(p, wait)
            taken.append(p)
        yield
    finally:
        for p in reversed(taken):
            _release(p)


def _writer(path: Path) -> str | None:
    """Who holds ``path``'s write lock right now, or None."""
    try:
        fd = os.open(lock_path(path), os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd)
    finally:
        os.close(fd)  # closing releases a shared lock we took
    return None


def _settled(path: Path) -> None:
    """Return once ``path`` has no patch journal, waiting for a live writer; an abandoned journal is an error."""
    if holds(path):
        return
    deadline = time.monotonic() + READER_WAIT
    while journal_path(path).exists():
        who = _writer(path)
        if who is None:
            raise InputError(f"{path}: an interrupted patch left {journal_path(path).name}; run "
                             f"`kimi-wb gguf restore {path}` to roll it back")
        if time.monotonic() > deadline:
            raise Busy(f"{path.name} is being patched by {who}; try again when it has finished")
        time.sleep(_POLL)


def _stamp(path: Path) -> tuple:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def consistent(path: Path, read: Callable[[Path], T], *, attempts: int = 20) -> T:
    """``read(path)`` over a file no writer changed while it ran (see the module docstring)."""
    if holds(path):
        return read(path)  # the writer reading its own work
    for _ in range(attempts):
        _settled(path)
        try:
            before = _stamp(path)
        except OSError:
            return read(path)  # a missing file: let the reader say so
        result = read(path)
        try:
            unchanged = _stamp(path) == before
        except OSError:
            unchanged = False
        if unchanged and not journal_path(path).exists():
            return result
    raise Busy(f"{path.name} kept changing while it was read; try again when no patch is running")
