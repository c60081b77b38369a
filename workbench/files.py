"""File I/O every writer and reader shares: atomic replacement and JSON with clear errors.

- :func:`atomic_path` hands out a temp path beside the target; on success the file is
  fsynced and renamed over the target, on any failure it is removed — a reader never sees
  a half-written file;
- :func:`write_text_atomic` is that for a text;
- :func:`read_json` reads a JSON document or raises :class:`InputError` naming the file,
  line and column;
- :func:`read_text` reads a UTF-8 text of bounded size (a user's template, say) or raises
  :class:`InputError`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.errors import InputError


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp path in ``target``'s folder that replaces ``target`` when the block succeeds."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 with ``\\n`` line ends, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


def read_json(path: str | os.PathLike[str], what: str = "JSON", *, max_bytes: int = 64 << 20):
    """The JSON document in ``path``; a missing, malformed, oversized or too deeply nested file is a
    one-line :class:`InputError`."""
    try:
        size = Path(path).stat().st_size
        if size > max_bytes:
            raise InputError(f"{path}: {size:,} bytes, too large for a {what} file (the limit is {max_bytes:,})")
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to read") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise InputError(f"cannot read {what} file {path}: {reason}") from e


def read_text(path: str | os.PathLike[str], what: str = "text", *, max_bytes: int = 4 << 20) -> str:
    """The UTF-8 text in ``path``, refused when larger than ``max_bytes``: a one-line :class:`InputError`."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise InputError(f"{p}: {size:,} bytes, too large for a {what} (the limit is {max_bytes:,})")
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"cannot read {what} {p}: not UTF-8 at byte {e.start}") from e
    except OSError as e:
        raise InputError(f"cannot read {what} {p}: {e.strerror or e}") from e
